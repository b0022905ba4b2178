"""MQTT topics as a live source, through paho-mqtt (2.x, callback API version 2).

paho runs the connection on its own network thread (``loop_start``): it reconnects by itself
with a growing delay (1 s doubling to 30 s) and each (re)connection subscribes again, at
QoS 1. The network thread only appends ``(arrival time, topic, payload)`` to a queue; the
payloads are parsed in ``read()``, on the consumer's thread, in batches. The queue is
unbounded: nothing received is ever dropped, a slow consumer only makes it longer.

A payload is one JSON object of channel values, ``{"time": "2024-03-01T10:00:00Z", "flow":
12.3, ...}``, or a list of such objects; each object is one row. Its time comes from
``time_key`` (ISO-8601 text, read as the importer reads ISO times; or epoch seconds,
milliseconds, microseconds or nanoseconds told apart by magnitude as for a CSV's epoch
column) when ``time_source == "payload"``, else, or where the key is missing (counted), the
arrival time. The channels are those given, else the numeric keys of the first object that
has any, in its order, fixed from then on.

What is and is not guaranteed (MQTT 3.1.1, QoS 1, a persistent session: the connection is
made with clean_session False under a fixed client id):

- A message the broker has delivered to this client is in the queue before paho acknowledges
  it, and stays there until ``read()``: a reconnect or a slow consumer never loses it.
- While the connection is down (network loss, broker restart), the broker keeps the session
  and queues QoS 1 messages for it, delivered on reconnect ("session resumed" in the notes) -
  as long as the broker still holds the session: a broker restarted without persistence
  (mosquitto's ``persistence true``) forgets it, and its queue limit (mosquitto:
  ``max_queued_messages``, 1000 by default) drops what comes beyond it. A note says when a
  reconnect found no session ("messages published meanwhile were not kept by the broker").
- Messages a publisher sent at QoS 0, or that the broker never accepted (published while the
  broker itself was down), cannot arrive. QoS 1 is at least once: a message whose
  acknowledgement was lost in a disconnect is sent again (same packet id, DUP flag): when
  it is one of the last ``RECENT_MESSAGES`` received, it is dropped and counted in
  ``health().duplicates``; otherwise it is kept (it may then be a row twice).
- Without a ``client_id`` a random one is made and its session is removed from the broker on
  ``close()``; a given ``client_id`` keeps its session, so the next start with the same id
  also gets what was published while it was stopped.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from faultlens.core.io.cells import NA_SET, NUMBER_RE
from faultlens.core.io.columns import UNIT_SECONDS, epoch_unit
from faultlens.core.live.source import SourceChunk, SourceError, SourceHealth
from faultlens.core.recording import TimeKind

TimeSource = Literal["payload", "arrival"]

# Reconnect delays of paho's network thread: the first retry after 1 s, doubling to 30 s.
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
# How long start() waits for the broker's answer to the first connection. A broker that
# refuses (bad credentials) is reported then; one that does not answer in time is retried.
CONNACK_WAIT_S = 5.0
KEEPALIVE_S = 30
# A resend can only be of a message that was in flight when the connection broke: the
# broker's in-flight window (mosquitto: 20 by default) is far below this.
RECENT_MESSAGES = 256


class MqttSource:
    """A ``Source`` of rows published as JSON on MQTT topics (wildcards ``+``/``#`` allowed).

    ``channels``: the channel names to record, in this order; None takes the numeric keys of
    the first message. ``time_source``: "payload" reads each row's time from ``time_key``,
    "arrival" stamps it on arrival. TLS: ``tls`` with an optional ``ca_file`` (else the
    system's certificates), a client certificate (``certfile``/``keyfile``), and
    ``insecure`` to skip the host name check (test brokers with self-made certificates).
    """

    def __init__(
        self,
        host: str,
        port: int = 1883,
        topics: Sequence[str] = ("#",),
        *,
        channels: Sequence[str] | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ca_file: str | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        insecure: bool = False,
        time_source: TimeSource = "payload",
        time_key: str = "time",
        client_id: str | None = None,
    ) -> None:
        if time_source not in ("payload", "arrival"):
            raise ValueError(f"time_source must be 'payload' or 'arrival', not {time_source!r}")
        if isinstance(topics, str):
            topics = (topics,)
        if not topics:
            raise ValueError("at least one topic is needed")
        self._host, self._port = host, int(port)
        self._topics = tuple(topics)
        self._channels: tuple[str, ...] | None = None
        if channels is not None:
            self._channels = tuple(dict.fromkeys(channels))
            if not self._channels:
                raise ValueError("the channel list is empty; name at least one channel")
        self._username, self._password = username, password
        self._tls, self._ca_file, self._certfile, self._keyfile = tls, ca_file, certfile, keyfile
        self._insecure = insecure
        self._time_source: TimeSource = time_source
        self._time_key = time_key
        self._keep_session = client_id is not None
        self._client_id = client_id or f"faultlens-{uuid.uuid4().hex[:12]}"
        self._client: Client | None = None
        # (arrival epoch s, topic, payload): appended by paho's thread, taken by read().
        self._queue: deque[tuple[float, str, bytes]] = deque()
        # (topic, packet id, payload) of the last messages, to recognise a resend (DUP flag).
        self._recent: deque[tuple[str, int, bytes]] = deque(maxlen=RECENT_MESSAGES)
        self._health = SourceHealth()
        self._lock = threading.Lock()  # guards _health (paho's thread and read() both write)
        self._connack = threading.Event()
        self._subscribed = threading.Event()
        self._connack_error = ""
        self._ever_connected = False
        self._lost_at: float | None = None
        self._closing = False
        self._last_time = -math.inf

    # ------------------------------------------------------------------ Source
    @property
    def description(self) -> str:
        scheme = "mqtts" if self._tls else "mqtt"
        return f"{scheme}://{self._host}:{self._port}/{','.join(self._topics)}"

    @property
    def channels(self) -> tuple[str, ...] | None:
        return self._channels

    @property
    def time_kind(self) -> TimeKind:
        return "datetime"

    @property
    def client_id(self) -> str:
        return self._client_id

    def start(self) -> None:
        """Connect and subscribe. Raises ``SourceError`` when the first connection fails
        outright (no such host, nothing listening on the port, TLS files that do not load,
        credentials the broker refuses); later losses are reconnected by themselves. Returns
        once the broker has confirmed the subscription (or after ``CONNACK_WAIT_S`` when it
        does not answer: paho goes on trying), so what is published from then on arrives."""
        if self._client is not None:
            return
        client = Client(CallbackAPIVersion.VERSION2, client_id=self._client_id, clean_session=False)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.connect_timeout = CONNACK_WAIT_S
        if self._username is not None:
            client.username_pw_set(self._username, self._password)
        where = self.description
        failure = ""
        with warnings.catch_warnings():
            # paho leaves the socket of a failed TLS handshake open, held by the traceback
            # only: it is collected here, without a ResourceWarning about paho's leak.
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                if self._tls:
                    client.tls_set(
                        ca_certs=self._ca_file, certfile=self._certfile, keyfile=self._keyfile
                    )
                    client.tls_insecure_set(self._insecure)
                client.connect(self._host, self._port, keepalive=KEEPALIVE_S)
            except (OSError, ValueError) as err:
                failure = _reason(err)
            if failure:
                gc.collect()
        if failure:
            raise SourceError(
                f"{where}: cannot connect ({failure}); check the broker's host and port and "
                "that it is running" + ("" if not self._tls else ", and the TLS files")
            )
        self._client = client
        client.loop_start()
        deadline = time.monotonic() + CONNACK_WAIT_S
        if self._connack.wait(CONNACK_WAIT_S) and self._connack_error:
            self._stop_client()
            raise SourceError(f"{where}: the broker refused the connection ({self._connack_error})")
        # Returning once subscribed means that what is published from now on arrives.
        self._subscribed.wait(max(0.0, deadline - time.monotonic()))

    def read(self) -> SourceChunk | None:
        taken: list[tuple[float, str, bytes]] = []
        queue = self._queue
        while queue:
            taken.append(queue.popleft())
        if not taken:
            return None
        return self._rows(taken)

    def health(self) -> SourceHealth:
        with self._lock:
            return dataclasses.replace(self._health, notes=list(self._health.notes))

    def pending(self) -> int:
        """Messages received and not yet read (what the consumer is behind by)."""
        return len(self._queue)

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._client is not None:
            self._stop_client()
            if not self._keep_session and self._ever_connected:
                self._forget_session()
        with self._lock:
            self._health.connection = "closed"

    # ------------------------------------------------------------------ paho's thread
    def _on_connect(
        self,
        client: Client,
        userdata: Any,
        flags: ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            with self._lock:
                self._health.last_error = f"{self.description}: connection refused ({reason})"
            if not self._ever_connected:
                # start() reports it and stops; paho is not to retry in the meantime.
                self._connack_error = str(reason)
                client.disconnect()
                self._connack.set()
            return
        client.subscribe([(topic, 1) for topic in self._topics])
        with self._lock:
            h = self._health
            h.connection = "connected"
            if self._ever_connected:
                h.reconnects += 1
                down = (
                    "" if self._lost_at is None else f" after {time.time() - self._lost_at:.1f} s"
                )
                kept = (
                    "session resumed"
                    if flags.session_present
                    else "new session: messages published meanwhile were not kept by the broker"
                )
                h.notes.append(f"reconnected{down} ({kept})")
        self._ever_connected = True
        self._lost_at = None
        self._connack.set()

    def _on_disconnect(
        self,
        client: Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._closing:
            return
        with self._lock:
            if self._health.connection == "connected":
                self._lost_at = time.time()
            self._health.connection = "disconnected"
            self._health.last_error = (
                f"{self.description}: connection lost ({reason}); reconnecting"
            )

    def _on_subscribe(
        self,
        client: Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [t for t, r in zip(self._topics, reasons, strict=False) if r.is_failure]
        self._subscribed.set()
        if refused:
            with self._lock:
                self._health.last_error = (
                    f"{self.description}: the broker refused the subscription to "
                    f"{', '.join(refused)}; check the topic and the user's rights"
                )

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        payload = bytes(message.payload)
        key = (message.topic, message.mid, payload)
        if message.dup and key in self._recent:
            # A QoS 1 resend of a message already queued here (its acknowledgement was lost
            # in a disconnect): the broker resends with the same packet id and the DUP flag.
            with self._lock:
                self._health.duplicates += 1
            return
        self._recent.append(key)
        self._queue.append((time.time(), message.topic, payload))

    def _stop_client(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        self._closing = True
        client.disconnect()
        client.loop_stop()

    def _forget_session(self) -> None:
        """Remove this client's persistent session from the broker: a clean-session
        connection under the same id discards it (MQTT 3.1.1, 3.1.2.4). Best effort."""
        client = Client(CallbackAPIVersion.VERSION2, client_id=self._client_id, clean_session=True)
        client.connect_timeout = 2.0
        if self._username is not None:
            client.username_pw_set(self._username, self._password)
        try:
            if self._tls:
                client.tls_set(
                    ca_certs=self._ca_file, certfile=self._certfile, keyfile=self._keyfile
                )
                client.tls_insecure_set(self._insecure)
            client.connect(self._host, self._port, keepalive=5)
            deadline = time.monotonic() + 2.0
            while not client.is_connected() and time.monotonic() < deadline:
                if client.loop(timeout=0.1) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            client.disconnect()
            client.loop(timeout=0.1)
        except (OSError, ValueError):
            pass  # the broker is gone: nothing to tidy up there now

    # ------------------------------------------------------------------ payloads -> rows
    def _rows(self, taken: list[tuple[float, str, bytes]]) -> SourceChunk | None:
        """The rows of the messages taken from the queue, bad input counted."""
        c = _Counts()
        arrivals: list[float] = []
        stamps: list[Any] = []
        rows: list[list[float]] = []
        for arrival, topic, payload in taken:
            try:
                decoded = json.loads(payload)
            except (ValueError, RecursionError) as err:
                c.malformed += 1
                c.error = f"topic {topic!r}: payload is not JSON ({_short(err)}); message skipped"
                continue
            objects = decoded if isinstance(decoded, list) else [decoded]
            for obj in objects:
                if not isinstance(obj, dict):
                    c.malformed += 1
                    c.error = (
                        f"topic {topic!r}: expected a JSON object of channel values (or a list "
                        f"of them), got {type(obj).__name__}; skipped"
                    )
                    continue
                if self._channels is None:
                    found = [
                        k for k, v in obj.items() if k != self._time_key and _is_number_value(v)
                    ]
                    if not found:
                        c.malformed += 1
                        c.error = f"topic {topic!r}: no numeric channel values in {_short(obj)}"
                        continue
                    self._channels = tuple(found)
                rows.append(self._values(topic, obj, c))
                arrivals.append(arrival)
                stamps.append(obj.get(self._time_key) if self._time_source == "payload" else None)
        if rows:
            t = self._times(arrivals, stamps, c)
            with np.errstate(over="ignore"):  # beyond float32's range -> +-inf, as imported
                values = np.asarray(rows, dtype=np.float64).astype(np.float32)
        with self._lock:
            h = self._health
            h.malformed += c.malformed
            h.bad_values += c.bad_values
            h.unknown_channels += c.unknown
            h.missing_values += c.missing
            h.missing_times += c.missing_times
            if rows:
                before = np.concatenate(([self._last_time], t[:-1]))
                h.time_backwards += int(np.count_nonzero(t < before))
                h.rows += len(rows)
            if c.error:
                h.last_error = c.error
        if not rows:
            return None
        self._last_time = float(t[-1])
        return SourceChunk(time=t, values=values)

    def _values(self, topic: str, obj: dict[str, Any], c: _Counts) -> list[float]:
        channels = self._channels
        assert channels is not None
        row = []
        for name in channels:
            if name not in obj:
                c.missing += 1
                row.append(math.nan)
                continue
            value = _number(obj[name])
            if value is None:
                c.bad_values += 1
                c.error = (
                    f"topic {topic!r}: {name} = {_short(obj[name])} is not a number (read as "
                    "missing)"
                )
                value = math.nan
            elif math.isnan(value):
                c.missing += 1
            row.append(value)
        for key in obj:
            if key != self._time_key and key not in channels:
                c.unknown += 1
                c.error = f"topic {topic!r}: {key!r} is not a recorded channel (ignored)"
        return row

    def _times(self, arrivals: list[float], stamps: list[Any], c: _Counts) -> np.ndarray:
        """Each row's time: its payload time where it has a readable one, else arrival."""
        t = np.asarray(arrivals, dtype=np.float64)
        if self._time_source == "arrival":
            return t
        texts: list[int] = []
        for i, stamp in enumerate(stamps):
            if stamp is None:
                c.missing_times += 1
            elif isinstance(stamp, str):
                texts.append(i)
            elif (seconds := _epoch_seconds(stamp)) is not None:
                t[i] = seconds
            else:
                c.bad_values += 1
                c.error = _bad_time(self._time_key, stamp)
        if texts:
            # As the importer reads ISO-8601 text (convert.text_time_seconds): UTC, an offset
            # when given; a naive time is taken as UTC.
            parsed = pd.to_datetime(
                pd.Series([stamps[i] for i in texts], dtype=object),
                format="ISO8601",
                utc=True,
                errors="coerce",
            )
            ok = ~parsed.isna().to_numpy()
            ns = parsed[ok].dt.as_unit("ns").astype("int64").to_numpy()
            whole, frac = np.divmod(ns, 1_000_000_000)
            index = np.asarray(texts)
            t[index[ok]] = whole.astype(np.float64) + frac.astype(np.float64) / 1e9
            for i in index[~ok]:
                c.bad_values += 1
                c.error = _bad_time(self._time_key, stamps[i])
        return t


@dataclasses.dataclass
class _Counts:
    """What one read() could not use, added to the health at the end under its lock."""

    malformed: int = 0
    bad_values: int = 0
    unknown: int = 0
    missing: int = 0
    missing_times: int = 0
    error: str = ""


def _is_number_value(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: object) -> float | None:
    """A channel value as a float: numbers and booleans (an on/off state) as they are, number
    text as the importer reads it (decimal point), null and missing-value text as NaN; None
    for anything else."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an integer beyond float64, as a CSV cell would read
            return math.inf if value > 0 else -math.inf
    if value is None:
        return math.nan
    if isinstance(value, str):
        text = value.strip()
        if text in NA_SET:
            return math.nan
        if NUMBER_RE.match(text):
            return float(text)
    return None


def _epoch_seconds(stamp: object) -> float | None:
    """Epoch seconds of a number time stamp, its unit told by its magnitude as for a CSV's
    epoch column (seconds ~1.7e9, milliseconds ~1.7e12, ...); None for anything else."""
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        return None
    value = _number(stamp)
    if value is None or not math.isfinite(value):
        return None
    unit = epoch_unit(abs(value))
    return None if unit is None else value * UNIT_SECONDS[unit]


def _bad_time(key: str, value: object) -> str:
    return (
        f"{key} = {_short(value)} is not an ISO-8601 time or an epoch number (seconds, "
        "milliseconds, ...); the arrival time is used"
    )


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__
