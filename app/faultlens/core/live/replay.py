"""Replay a recording as if it were arriving now: into an MQTT topic or a growing CSV.

A live source needs something live to follow. ``replay`` sends an imported recording's rows
at the pace its own time column gives them (times ``speed``), or at a fixed rate, to a
target: an MQTT topic (one JSON object per row, QoS 1, through paho-mqtt) or a CSV file it
appends to, as a data logger would (header first, each batch written whole and flushed).
The tests, ``benchmarks/bench_live.py`` and ``faultlens replay`` (the README's demo) use it.

Rows due together go out together: a target that cannot keep up delays rows but never drops
them. Replay is a generator like every long core job: it yields a ``ReplayProgress`` after
each batch (with the wall-clock time the batch went out, for latency measurements) and
returns a ``ReplayResult``; ``should_stop`` ends it early, which is a normal end here (what
was sent stays sent), so it returns rather than raising ``Cancelled``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

import numpy as np

from faultlens.core.errors import FaultLensError
from faultlens.core.progress import ShouldStop, never_stop
from faultlens.core.recording import Recording, TimeKind

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

# How the rows' times are sent: as recorded, restamped so the first row is "now" (a demo
# looks live; a seconds or index recording becomes a date-time one), or not at all (the
# receiver stamps arrival).
Stamp = Literal["recorded", "now", "none"]

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}  # as open_source reads an address
CONNECT_TIMEOUT_S = 10.0
# Longest sleep between two checks of should_stop, and the most rows sent in one batch (so
# progress and stopping stay prompt when a slow target makes rows pile up).
MAX_SLEEP_S = 0.05
MAX_BATCH_ROWS = 2000


class ReplayError(FaultLensError):
    """The replay cannot start: a bad target, a broker that refuses or cannot be reached."""


@dataclass(frozen=True)
class ReplayProgress:
    """After each batch: ``rows_sent`` in all (over every pass with ``loop``), of
    ``total_rows`` per pass; ``first_row``/``n_rows`` the batch just sent (rows of the
    recording); ``sent_at`` the wall-clock time (``time.time()``) it went out; ``behind_s``
    how late the batch's last row was against its schedule."""

    rows_sent: int
    total_rows: int
    passes: int
    first_row: int
    n_rows: int
    sent_at: float
    behind_s: float

    @property
    def fraction(self) -> float:
        """Done of the current pass (0..1)."""
        if self.total_rows == 0:
            return 1.0
        done = self.rows_sent - self.passes * self.total_rows
        return min(1.0, max(0.0, done / self.total_rows))


@dataclass(frozen=True)
class ReplayResult:
    rows_sent: int
    elapsed_s: float
    stopped: bool  # should_stop ended it before the last row


class ReplayTarget(Protocol):
    """Where replayed rows go. ``open`` once, ``send`` batches, ``close`` (idempotent)."""

    # Whether a date-time whose offset the recording does not know may go out without one
    # (a CSV, like the file it came from) or must say UTC (a message read by a receiver).
    keeps_offset: bool

    @property
    def description(self) -> str: ...

    def open(self, channels: Sequence[str], time_column: str | None) -> None: ...

    def send(self, times: Sequence[str | float] | None, values: np.ndarray) -> None:
        """``times``: one per row (ISO-8601 text or seconds), None to send no time;
        ``values``: (n, C) float32 in ``open``'s channel order, NaN for a missing value."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- pacing
def schedule(recording: Recording, speed: float = 1.0, rate: float | None = None) -> np.ndarray:
    """(N,) float64: seconds after the start at which each row is due.

    ``rate`` (rows/s) paces rows evenly; otherwise the recording's own time column divided by
    ``speed`` (a recording without one: one row per second). Time going backwards is not
    waited for (the row goes out with the one before it)."""
    n = recording.n_rows
    if rate is not None:
        if not rate > 0 or not math.isfinite(rate):
            raise ReplayError(f"rate {rate}: must be a positive number of rows per second")
        return np.arange(n, dtype=np.float64) / rate
    if not speed > 0 or not math.isfinite(speed):
        raise ReplayError(f"speed {speed}: must be a positive factor (1 = as recorded)")
    if recording.time is None or n == 0:
        return np.arange(n, dtype=np.float64) / speed
    t = np.asarray(recording.time, dtype=np.float64)
    t = np.fmax.accumulate(np.where(np.isfinite(t), t, -np.inf))
    t = np.where(np.isfinite(t), t, t[np.isfinite(t)][0] if np.isfinite(t).any() else 0.0)
    return (t - t[0]) / speed


def _period(recording: Recording, due: np.ndarray, speed: float, rate: float | None) -> float:
    """Wall seconds one pass takes before the next begins (``loop``): the last row's due
    time plus one sampling interval, so the pace runs on across the seam."""
    step = 1.0 / rate if rate is not None else recording.sampling_interval / speed
    return float(due[-1] + step) if len(due) else step


def replay(
    recording: Recording,
    target: ReplayTarget,
    *,
    speed: float = 1.0,
    rate: float | None = None,
    loop: bool = False,
    stamp: Stamp = "recorded",
    should_stop: ShouldStop = never_stop,
) -> Generator[ReplayProgress, None, ReplayResult]:
    """Send ``recording``'s rows to ``target`` at their own pace (see ``schedule``).

    ``loop`` starts over after the last row until ``should_stop()`` (times keep increasing
    across passes: each pass is shifted by the length of the one before). Raises
    ``ReplayError`` when the target cannot be opened; the target is closed (MQTT: every
    message acknowledged by the broker or given up after a few seconds) before returning.
    """
    due = schedule(recording, speed, rate)
    period = _period(recording, due, speed, rate)
    n = recording.n_rows
    time_column = None if stamp == "none" else _time_column_name(recording, stamp)
    target.open(recording.channels, time_column)
    start_mono, start_wall = time.monotonic(), time.time()
    sent = passes = row = 0
    stopped = False
    try:
        while n:
            if should_stop():
                stopped = True
                break
            now = time.monotonic() - start_mono - passes * period
            upto = min(int(np.searchsorted(due, now, side="right")), row + MAX_BATCH_ROWS)
            if upto > row:
                wall = start_wall + passes * period + due[row:upto]
                times = _times(recording, row, upto, stamp, passes, wall, target.keeps_offset)
                target.send(times, recording.data[row:upto])
                sent += upto - row
                late = now - float(due[upto - 1])
                yield ReplayProgress(sent, n, passes, row, upto - row, time.time(), late)
                row = upto
            if row >= n:
                if not loop:
                    break
                passes, row = passes + 1, 0
                continue
            wait = float(due[row]) - (time.monotonic() - start_mono - passes * period)
            if wait > 0:
                time.sleep(min(wait, MAX_SLEEP_S))
    finally:
        target.close()
    return ReplayResult(sent, time.monotonic() - start_mono, stopped)


def _time_column_name(recording: Recording, stamp: Stamp) -> str | None:
    if stamp == "now":
        return "time"
    if recording.time is None:
        return None  # an index recording: rows are numbered by the receiver
    return recording.time_column or "time"


def _times(
    recording: Recording,
    lo: int,
    hi: int,
    stamp: Stamp,
    passes: int,
    wall: np.ndarray,
    keeps_offset: bool,
) -> list[str | float] | None:
    """The time of rows [lo, hi) as sent: ISO-8601 text for date-time, seconds otherwise.
    ``wall``: the rows' due times on the wall clock (``stamp="now"`` sends those);
    ``keeps_offset``: write a date-time without a known offset as the file had it (naive),
    else with "+00:00" so a receiver never guesses the zone."""
    if stamp == "none":
        return None
    if stamp == "now":
        return [_iso(t, 0) for t in wall]
    if recording.time is None:
        return None
    # Each later pass is shifted by the recorded span plus one interval: time runs on.
    span = float(recording.time[-1] - recording.time[0]) + recording.sampling_interval
    t = recording.time[lo:hi] + passes * span
    if recording.time_kind == "datetime":
        offset = recording.utc_offset_s
        if offset is None and not keeps_offset:
            offset = 0
        return [_iso(x, offset) for x in t]
    return [float(x) for x in t]


def _iso(t: float, utc_offset_s: int | None) -> str:
    """ISO-8601 as ``Recording.format_time`` writes it: naive UTC without an offset."""
    if utc_offset_s is None:
        return datetime.fromtimestamp(float(t), tz=timezone.utc).replace(tzinfo=None).isoformat()
    tz = timezone(timedelta(seconds=utc_offset_s))
    return datetime.fromtimestamp(float(t), tz=tz).isoformat()


def _number(v: np.floating) -> str:
    # numpy prints a float32 as its shortest round-trip text ("18.59", not 18.590000152...).
    return str(v)


# ---------------------------------------------------------------- targets
class CsvTarget:
    """Appends rows to a CSV as a data logger does: the header when the file is opened
    (an existing file is replaced, so the columns are the recording's), then each batch
    written whole and flushed, so a follower sees whole lines (at most a partial last one,
    which it waits out)."""

    keeps_offset = True

    def __init__(self, path: str | Path, separator: str = ",") -> None:
        self.path = Path(path)
        self.separator = separator
        self._file: IO[str] | None = None
        self._with_time = False

    @property
    def description(self) -> str:
        return str(self.path)

    def open(self, channels: Sequence[str], time_column: str | None) -> None:
        if self.path.is_dir():
            raise ReplayError(f"{self.path}: is a folder; give a CSV file name to replay into")
        if not self.path.parent.is_dir():
            raise ReplayError(f"{self.path}: folder {self.path.parent} does not exist")
        self._with_time = time_column is not None
        header = ([time_column] if time_column is not None else []) + list(channels)
        try:
            self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as err:
            raise ReplayError(f"{self.path}: cannot write ({err.strerror})") from None
        self._file.write(self.separator.join(header) + "\n")
        self._file.flush()

    def send(self, times: Sequence[str | float] | None, values: np.ndarray) -> None:
        assert self._file is not None, "open() first"
        sep = self.separator
        lines = []
        for i, row in enumerate(values):
            cells = ["" if not np.isfinite(v) else _number(v) for v in row]
            if self._with_time:
                t = times[i] if times is not None else ""
                cells.insert(0, t if isinstance(t, str) else repr(float(t)))
            lines.append(sep.join(cells))
        self._file.write("\n".join(lines) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(frozen=True)
class MqttAddress:
    """``mqtt[s]://[user[:password]@]HOST[:PORT]/TOPIC`` taken apart."""

    host: str
    port: int
    topic: str
    username: str | None = None
    password: str | None = None
    tls: bool = False

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}/{self.topic}"


def parse_mqtt_url(url: str) -> MqttAddress:
    """An ``mqtt://`` (``mqtts://``: TLS) URL's parts, read as ``open_source`` reads a
    source's; ``ReplayError`` naming what is wrong otherwise. The topic is everything after
    the first slash, taken as written (it may hold slashes, and ``#``, which a URL parser
    would take for a fragment); ``%XX`` escapes are undone."""
    scheme, sep, rest = url.partition("://")
    if scheme.lower() not in DEFAULT_PORTS or not sep:
        raise ReplayError(f"{url}: not an mqtt:// address (mqtt://HOST[:PORT]/TOPIC)")
    netloc, _, topic = rest.partition("/")
    parts = urlsplit(f"mqtt://{netloc}")
    try:
        port = parts.port or DEFAULT_PORTS[scheme.lower()]
    except ValueError:
        raise ReplayError(f"{url}: the port is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ReplayError(f"{url}: no broker host (mqtt://HOST[:PORT]/TOPIC)")
    if not topic:
        raise ReplayError(f"{url}: no topic after the host (mqtt://HOST[:PORT]/TOPIC)")
    return MqttAddress(
        host=parts.hostname,
        port=port,
        topic=unquote(topic),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=scheme.lower() == "mqtts",
    )


class MqttTarget:
    """Publishes one JSON object per row (``{"time": ..., "<channel>": value, ...}``, a
    missing value as null) at QoS 1: the broker acknowledges each message, and ``close``
    waits for those acknowledgements, so a replay that returned has delivered its rows."""

    keeps_offset = False

    def __init__(
        self,
        address: MqttAddress,
        *,
        tls: bool = False,
        ca_file: str | Path | None = None,
        qos: int = 1,
        close_timeout_s: float = 10.0,
    ) -> None:
        if address.topic.endswith("#") or "+" in address.topic:
            raise ReplayError(f"{address}: a topic to publish to cannot hold a wildcard")
        self.address = address
        self.tls = tls or address.tls or ca_file is not None
        self.ca_file = None if ca_file is None else str(ca_file)
        self.qos = qos
        self.close_timeout_s = close_timeout_s
        self._client: mqtt.Client | None = None
        self._keys: list[str] = []
        self._time_key: str | None = None
        self._last: mqtt.MQTTMessageInfo | None = None
        self._connected = threading.Event()
        self._refused = ""

    @property
    def description(self) -> str:
        return str(self.address)

    def open(self, channels: Sequence[str], time_column: str | None) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self._keys = [json.dumps(str(name)) + ": " for name in channels]
        self._time_key = None if time_column is None else "time"
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        client.max_queued_messages_set(0)  # 0: no limit; rows wait, never dropped
        client.max_inflight_messages_set(1000)
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        if self.tls:
            try:
                client.tls_set(ca_certs=self.ca_file)
            except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
                raise ReplayError(f"{self.ca_file or 'TLS'}: cannot set up TLS ({err})") from None
        client.on_connect = self._on_connect
        try:
            client.connect(self.address.host, self.address.port, keepalive=30)
        except (OSError, ValueError) as err:
            raise ReplayError(f"{self.address}: cannot connect to the broker ({err})") from None
        client.loop_start()
        self._client = client
        if not self._connected.wait(CONNECT_TIMEOUT_S) or self._refused:
            why = self._refused or f"no answer within {CONNECT_TIMEOUT_S:g} s"
            self.close()
            raise ReplayError(f"{self.address}: the broker did not accept the connection ({why})")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        self._connected.set()

    def send(self, times: Sequence[str | float] | None, values: np.ndarray) -> None:
        assert self._client is not None, "open() first"
        # The JSON is written by hand so values read as the float32's shortest text
        # ("18.59"); json.dumps would write the float64 it widens to (18.590000152587891).
        keys = self._keys
        for i, row in enumerate(values):
            parts = (
                []
                if times is None or self._time_key is None
                else [f'"time": {json.dumps(times[i])}']
            )
            parts.extend(
                k + ("null" if not np.isfinite(v) else _number(v))
                for k, v in zip(keys, row, strict=True)
            )
            payload = "{" + ", ".join(parts) + "}"
            self._last = self._client.publish(self.address.topic, payload, qos=self.qos)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if self._last is not None and self._connected.is_set() and not self._refused:
                # Delivered means acknowledged (QoS 1): paho sends in order, so the last
                # message's acknowledgement follows every earlier one's.
                deadline = time.monotonic() + self.close_timeout_s
                while not self._last.is_published() and time.monotonic() < deadline:
                    time.sleep(0.01)
            client.disconnect()
        finally:
            client.loop_stop()


def open_target(
    spec: str,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: bool = False,
    ca_file: str | Path | None = None,
) -> ReplayTarget:
    """``mqtt[s]://...`` -> ``MqttTarget``; anything else is a CSV file path -> ``CsvTarget``.
    ``username``/``password`` stand in for a login the URL does not hold."""
    if "://" in spec:
        address = parse_mqtt_url(spec)
        if username is not None or password is not None:
            address = dataclasses.replace(
                address,
                username=username or address.username,
                password=password if password is not None else address.password,
            )
        return MqttTarget(address, tls=tls, ca_file=ca_file)
    path = Path(spec)
    if path.suffix.lower() not in (".csv", ".txt"):
        raise ReplayError(f"{spec}: replay into a .csv file or an mqtt:// address")
    return CsvTarget(path)


def time_kind_sent(recording: Recording, stamp: Stamp) -> TimeKind:
    """How a receiver reads the times this replay sends."""
    if stamp == "now":
        return "datetime"
    if stamp == "none" or recording.time is None:
        return "index"
    return recording.time_kind
