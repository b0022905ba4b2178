"""A real MQTT broker for the tests, on 127.0.0.1 on a free port, stopped afterwards.

mosquitto when it is installed (``.ci/run`` installs it on CI), else amqtt (the dev extra)
when its ``amqtt`` command is found; ``FAULTLENS_TEST_BROKER=amqtt`` prefers amqtt.
``start_broker`` raises ``BrokerUnavailable`` when neither is there, and the
``mqtt_broker`` fixture skips with that reason. The broker is ready when it accepts
TCP connections (polled with a deadline, no fixed sleep).

mosquitto runs with persistence in a temporary folder, so a ``restart()`` keeps the
sessions and their queued QoS 1 messages as a broker restarted in production would
(``keeps_sessions``); amqtt keeps nothing across a restart, and keeps a session that a
clean-session connection should discard (MQTT 3.1.1, 3.1.2.4), seen with amqtt 0.12.1
(``cleans_sessions``); tests that need either skip on it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT_S = 10.0


class BrokerUnavailable(RuntimeError):
    """No broker program on this machine."""


@dataclass
class Broker:
    """A running broker process; ``host``/``port`` stay the same across ``restart()``."""

    kind: str  # "mosquitto" | "amqtt"
    host: str
    port: int
    folder: Path
    command: list[str]
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None  # the CA that signed a TLS broker's certificate
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def keeps_sessions(self) -> bool:
        """Whether persistent sessions and their queued messages survive ``restart()``."""
        return self.kind == "mosquitto"

    @property
    def cleans_sessions(self) -> bool:
        """Whether a clean-session connection discards the client id's stored session."""
        return self.kind == "mosquitto"

    @property
    def log(self) -> str:
        path = self.folder / "broker.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        if self._proc is not None:
            return
        with (self.folder / "broker.log").open("ab") as log:
            self._proc = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
            )
        _wait_until_listening(self)

    def stop(self) -> None:
        """Stop the broker (SIGTERM: mosquitto saves its sessions) and wait for it to exit."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


def start_broker(
    username: str | None = None, password: str | None = None, tls: bool = False
) -> Broker:
    """A broker listening on 127.0.0.1 on a free port; with ``username``/``password`` it
    accepts only that user; with ``tls`` it speaks TLS only, with a certificate for
    127.0.0.1 and localhost signed by a CA made for it (``Broker.ca_file``; openssl makes
    them). Those two need mosquitto. Raises ``BrokerUnavailable``."""
    folder = Path(tempfile.mkdtemp(prefix="faultlens-broker-"))
    port = _free_port()
    wanted = os.environ.get("FAULTLENS_TEST_BROKER", "")  # "amqtt": skip mosquitto
    mosquitto = None
    if wanted != "amqtt":
        mosquitto = shutil.which("mosquitto") or next(
            (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)),
            None,
        )
    if mosquitto is not None:
        try:
            broker = _mosquitto(mosquitto, folder, port, username, password, tls)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    else:
        amqtt = shutil.which("amqtt") or _beside_python("amqtt")
        if amqtt is None:
            shutil.rmtree(folder, ignore_errors=True)
            raise BrokerUnavailable(
                "no MQTT broker: install mosquitto (apt-get install mosquitto) or amqtt"
            )
        if username is not None or tls:
            shutil.rmtree(folder, ignore_errors=True)
            raise BrokerUnavailable("a broker with a password or TLS needs mosquitto")
        broker = _amqtt(amqtt, folder, port)
    try:
        broker.start()
    except BaseException:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return broker


def remove(broker: Broker) -> None:
    """Stop the broker and delete its folder."""
    broker.stop()
    shutil.rmtree(broker.folder, ignore_errors=True)


def _mosquitto(
    program: str, folder: Path, port: int, username: str | None, password: str | None, tls: bool
) -> Broker:
    lines = [
        f"listener {port} 127.0.0.1",
        "persistence true",
        f"persistence_location {folder}/",
        # Run as root (CI), mosquitto would switch to the user "mosquitto", who cannot
        # write the temporary folder; as any other user this line is ignored.
        "user root",
        "log_dest stdout",
        "log_type error",
        "log_type warning",
        "log_type notice",
    ]
    if username is not None:
        passwords = folder / "passwords"
        subprocess.run(
            [_passwd_program(), "-b", "-c", str(passwords), username, password or ""],
            check=True,
            capture_output=True,
        )
        lines += ["allow_anonymous false", f"password_file {passwords}"]
    else:
        lines.append("allow_anonymous true")
    ca_file = None
    if tls:
        ca_file, certfile, keyfile = _certificates(folder)
        lines += [f"cafile {ca_file}", f"certfile {certfile}", f"keyfile {keyfile}"]
    config = folder / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n")
    command = [program, "-c", str(config)]
    return Broker("mosquitto", "127.0.0.1", port, folder, command, username, password, ca_file)


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 and localhost signed by it (P-256 keys:
    made in milliseconds), valid for two days."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise BrokerUnavailable("a TLS broker needs openssl to make its certificates")
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ca = "/CN=FaultLens test CA"
    steps = [
        f"req -x509 {ec} -keyout ca.key -out ca.crt -days 2",
        f"req {ec} -keyout server.key -out server.csr",
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt "
        "-days 2 -extfile san.ext",
    ]
    subjects = [["-subj", ca], ["-subj", "/CN=localhost"], []]
    for step, subject in zip(steps, subjects, strict=True):
        command = [openssl, *step.split(), *subject]
        subprocess.run(command, cwd=folder, check=True, capture_output=True)
    return folder / "ca.crt", folder / "server.crt", folder / "server.key"


def _passwd_program() -> str:
    found = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not os.path.exists(found):
        raise BrokerUnavailable("mosquitto_passwd not found (part of the mosquitto package)")
    return found


def _amqtt(program: str, folder: Path, port: int) -> Broker:
    config = folder / "amqtt.yaml"
    config.write_text(
        "listeners:\n"
        "  default:\n"
        "    type: tcp\n"
        f"    bind: 127.0.0.1:{port}\n"
        "plugins:\n"
        "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
        "    allow_anonymous: true\n"
    )
    return Broker("amqtt", "127.0.0.1", port, folder, [program, "-c", str(config)])


def _beside_python(name: str) -> str | None:
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_listening(broker: Broker) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        proc = broker._proc
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{broker.kind} exited with {proc.returncode}:\n{broker.log}")
        try:
            with socket.create_connection((broker.host, broker.port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                broker.stop()
                raise RuntimeError(
                    f"{broker.kind} did not listen on {broker.port} within "
                    f"{READY_TIMEOUT_S:.0f} s:\n{broker.log}"
                ) from None
            time.sleep(0.01)
