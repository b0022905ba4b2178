"""MqttSource against a real broker (tests/broker.py), a real paho client publishing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from paho.mqtt.client import Client, ConnectFlags
from paho.mqtt.enums import CallbackAPIVersion

from broker import Broker, BrokerUnavailable, remove, start_broker
from faultlens.core.live.mqtt_source import MqttSource
from faultlens.core.live.open_source import open_source
from faultlens.core.live.source import Source, SourceError


class Publisher:
    """A paho client publishing at QoS 1, each publication acknowledged by the broker."""

    def __init__(self, broker: Broker) -> None:
        self.client = Client(CallbackAPIVersion.VERSION2, client_id="test-publisher")
        self.client.reconnect_delay_set(1, 2)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def send(self, topic: str, payload: Any) -> None:
        text = payload if isinstance(payload, str | bytes) else json.dumps(payload)
        info = self.client.publish(topic, text, qos=1)
        info.wait_for_publish(timeout=5)
        assert info.is_published(), f"not published: {info.rc}"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(mqtt_broker: Broker) -> Iterator[Publisher]:
    pub = Publisher(mqtt_broker)
    yield pub
    pub.close()


@pytest.fixture
def sources() -> Iterator[list[MqttSource]]:
    """Sources to close after the test (their network threads must not outlive it)."""
    made: list[MqttSource] = []
    yield made
    for src in made:
        src.close()


def _source(made: list[MqttSource], broker: Broker, **kwargs: Any) -> MqttSource:
    kwargs.setdefault("topics", ("plant/#",))
    src = MqttSource(broker.host, broker.port, **kwargs)
    made.append(src)
    src.start()
    return src


def _collect(src: Source, rows: int, timeout: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    times: list[np.ndarray] = []
    values: list[np.ndarray] = []
    deadline = time.monotonic() + timeout
    while sum(len(t) for t in times) < rows:
        chunk = src.read()
        if chunk is None:
            if time.monotonic() > deadline:
                got = sum(len(t) for t in times)
                raise AssertionError(f"{got} of {rows} rows in {timeout} s: {src.health()}")
            time.sleep(0.005)
            continue
        times.append(chunk.time)
        values.append(chunk.values)
    return np.concatenate(times), np.concatenate(values)


def _until(done: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_values_arrive_in_order_with_payload_times(
    mqtt_broker: Broker, publisher: Publisher, sources: list[MqttSource]
) -> None:
    src = _source(sources, mqtt_broker)
    assert isinstance(src, Source)
    assert src.channels is None and src.time_kind == "datetime"
    assert src.health().connection == "connected"
    publisher.send("plant/pump", {"time": "2024-03-01T10:00:00Z", "flow": 1.5, "p": 2})
    publisher.send("plant/pump", {"time": "2024-03-01T11:00:01.250+01:00", "p": 3, "flow": 2.5})
    publisher.send("plant/pump", {"time": 1709287202, "flow": 3.5, "p": 4})  # epoch s
    publisher.send("plant/pump", {"time": 1709287203500, "flow": 4.5, "p": 5})  # epoch ms
    before = time.time()
    publisher.send("plant/pump", {"flow": 5.5, "p": 6})  # no time: arrival, counted
    t, v = _collect(src, 5)
    assert src.channels == ("flow", "p")  # the first message's order
    base = datetime(2024, 3, 1, 10, tzinfo=UTC).timestamp()
    np.testing.assert_array_equal(t[:4], base + np.array([0.0, 1.25, 2.0, 3.5]))
    assert before <= t[4] <= time.time()
    np.testing.assert_array_equal(v, [[1.5, 2], [2.5, 3], [3.5, 4], [4.5, 5], [5.5, 6]])
    health = src.health()
    assert (health.rows, health.missing_times, health.problems) == (5, 1, 1)
    assert src.read() is None


def test_arrival_times_and_a_list_payload(
    mqtt_broker: Broker, publisher: Publisher, sources: list[MqttSource]
) -> None:
    src = _source(sources, mqtt_broker, time_source="arrival", channels=("a", "b"))
    assert src.channels == ("a", "b")
    before = time.time()
    publisher.send("plant/x", [{"a": 1, "b": 2, "time": "1999-01-01"}, {"b": 4, "a": 3}])
    publisher.send("plant/x", {"a": 5, "b": 6})
    t, v = _collect(src, 3)
    np.testing.assert_array_equal(v, [[1, 2], [3, 4], [5, 6]])
    assert before <= t[0] <= t[1] <= t[2] <= time.time()  # the payload's time is not used
    assert src.health().problems == 0


def test_wildcards_pick_the_topics(
    mqtt_broker: Broker, publisher: Publisher, sources: list[MqttSource]
) -> None:
    src = _source(sources, mqtt_broker, topics=("plant/+/pump", "lab/#"), time_source="arrival")
    publisher.send("plant/1/pump", {"v": 1})
    publisher.send("plant/1/valve", {"v": 2})  # not subscribed
    publisher.send("plant/2/pump", {"v": 3})
    publisher.send("lab/a/b/c", {"v": 4})
    publisher.send("plant/2/pump", {"v": 5})
    _t, v = _collect(src, 4)
    assert v[:, 0].tolist() == [1, 3, 4, 5]
    assert "plant/+/pump,lab/#" in src.description


def test_bad_input_is_counted_never_raised(
    mqtt_broker: Broker, publisher: Publisher, sources: list[MqttSource]
) -> None:
    src = _source(sources, mqtt_broker, channels=("flow", "p"))
    base = "2024-03-01T10:00:0"
    publisher.send("plant/a", b"{not json")
    _until(lambda: src.read() is None and src.health().malformed == 1)
    assert "'plant/a'" in src.health().last_error and "not JSON" in src.health().last_error
    publisher.send("plant/a", [1, 2])  # two objects that are not objects
    publisher.send("plant/b", {"time": base + "1", "flow": 1, "p": 2, "extra": 3})
    publisher.send("plant/b", {"time": base + "2", "flow": "high", "p": None})
    publisher.send("plant/b", {"time": base + "3", "p": "7.5"})  # flow missing, p as text
    publisher.send("plant/b", {"time": base + "0", "flow": 1, "p": 1})  # backwards
    publisher.send("plant/b", {"time": 10**400, "flow": -(10**400), "p": 1e300})  # beyond float64
    publisher.send("plant/b", {"time": "yesterday", "flow": 2, "p": 2})  # bad time
    t, v = _collect(src, 6)
    np.testing.assert_array_equal(
        v, [[1, 2], [np.nan, np.nan], [np.nan, 7.5], [1, 1], [-np.inf, np.inf], [2, 2]]
    )
    health = src.health()
    assert health.malformed == 3
    assert health.unknown_channels == 1
    assert health.bad_values == 3  # "high", the times 10**400 and "yesterday"
    assert health.missing_values == 2  # p: null, flow absent
    assert health.time_backwards == 1
    assert "yesterday" in health.last_error and "arrival time" in health.last_error
    assert t[3] < t[2]  # kept as received


@pytest.mark.slow
def test_broker_restart_mid_stream_loses_nothing_the_broker_accepted(
    mqtt_broker: Broker, sources: list[MqttSource]
) -> None:
    """Published before the restart (some read, some still queued here), and published
    after it while this client is still reconnecting: all arrive, once, in order."""
    if not mqtt_broker.keeps_sessions:
        pytest.skip(f"{mqtt_broker.kind} keeps no sessions across a restart")
    src = _source(sources, mqtt_broker, topics=("plant/#",))
    pub = Publisher(mqtt_broker)
    try:
        for i in range(10):
            pub.send("plant/p", {"time": 1709287200 + i, "i": i})
        _collect(src, 10)
        for i in range(10, 30):  # delivered, still in the source's queue across the restart
            pub.send("plant/p", {"time": 1709287200 + i, "i": i})
        _until(lambda: src.pending() == 20)
    finally:
        pub.close()
    mqtt_broker.restart()
    # Published while the source waits to reconnect (its first retry comes after 1 s): the
    # broker queues them in the source's session.
    pub = Publisher(mqtt_broker)
    try:
        for i in range(30, 40):
            pub.send("plant/p", {"time": 1709287200 + i, "i": i})
    finally:
        pub.close()
    health = src.health()
    assert health.connection == "disconnected" and health.reconnects == 0, "reconnected early"
    _until(lambda: src.health().connection == "connected", timeout=10)
    t, v = _collect(src, 30, timeout=10)
    assert v[:, 0].tolist() == list(range(10, 40))
    np.testing.assert_array_equal(np.diff(t), 1.0)
    health = src.health()
    assert health.reconnects == 1 and health.rows == 40
    assert any("session resumed" in note for note in health.notes), health.notes
    assert src.read() is None  # nothing twice


def test_bad_address_raises_a_clear_error(mqtt_broker: Broker) -> None:
    closed_port = mqtt_broker.port
    mqtt_broker.stop()
    src = MqttSource("127.0.0.1", closed_port)
    with pytest.raises(SourceError, match=r"mqtt://127\.0\.0\.1:\d+/#: cannot connect"):
        src.start()
    src.close()
    src = MqttSource("no-such-host.invalid", 1883)
    with pytest.raises(SourceError, match="cannot connect"):
        src.start()
    src.close()


def test_password_broker(sources: list[MqttSource]) -> None:
    try:
        broker = start_broker(username="eng", password="s3cret")
    except BrokerUnavailable as err:
        pytest.skip(str(err))
    try:
        wrong = MqttSource(broker.host, broker.port, username="eng", password="wrong")
        sources.append(wrong)
        with pytest.raises(SourceError, match="refused"):
            wrong.start()
        src = _source(sources, broker, username="eng", password="s3cret")
        assert src.health().connection == "connected"
        src.close()  # (before its broker goes)
        # The same from a URL: user, escaped password, port and an escaped "#" parsed.
        src = open_source(f"mqtt://eng:s%33cret@{broker.host}:{broker.port}/plant/%23")
        assert isinstance(src, MqttSource)
        sources.append(src)
        src.start()
        pub = Client(CallbackAPIVersion.VERSION2)
        pub.username_pw_set("eng", "s3cret")
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        try:
            pub.publish("plant/a/b", json.dumps({"x": 7}), qos=1).wait_for_publish(timeout=5)
        finally:
            pub.disconnect()
            pub.loop_stop()
        _t, v = _collect(src, 1)
        assert v.tolist() == [[7.0]]
        src.close()
    finally:
        remove(broker)


def _session_present(broker: Broker, client_id: str) -> bool:
    """Whether the broker holds a session for ``client_id`` (connects without cleaning)."""
    answer: list[bool] = []

    def on_connect(client: Client, userdata: Any, flags: ConnectFlags, *rest: Any) -> None:
        answer.append(bool(flags.session_present))

    probe = Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    probe.on_connect = on_connect
    probe.connect(broker.host, broker.port)
    probe.loop_start()
    try:
        _until(lambda: bool(answer))
    finally:
        probe.disconnect()
        probe.loop_stop()
    return answer[0]


def test_close_forgets_a_generated_session_and_keeps_a_named_one(
    mqtt_broker: Broker, sources: list[MqttSource]
) -> None:
    if not mqtt_broker.cleans_sessions:
        pytest.skip(f"{mqtt_broker.kind} keeps sessions a clean-session connection discards")
    made = _source(sources, mqtt_broker)
    named = _source(sources, mqtt_broker, client_id="faultlens-test-named")
    made.close()
    named.close()
    assert not _session_present(mqtt_broker, made.client_id)
    assert _session_present(mqtt_broker, "faultlens-test-named")


def test_open_source_reads_mqtt_urls() -> None:
    src = open_source("mqtt://broker.local/plant/+/pump,lab/#", time_source="arrival")
    assert isinstance(src, MqttSource)
    assert src.description == "mqtt://broker.local:1883/plant/+/pump,lab/#"
    assert open_source("MQTTS://[::1]/x%2Cy").description == "mqtts://::1:8883/x,y"
    assert open_source("mqtt://h:1999").description == "mqtt://h:1999/#"
    for bad, why in (
        ("http://h/x", "not supported"),
        ("mqtt://:1883/x", "no broker host"),
        ("mqtt://h:port/x", "Port could not be cast"),
        ("", "no source given"),
    ):
        with pytest.raises(SourceError, match=why):
            open_source(bad)
    with pytest.raises(SourceError, match="does not apply to an MQTT source"):
        open_source("mqtt://h/x", from_start=False)
    with pytest.raises(SourceError, match="time_source must be"):
        open_source("mqtt://h/x", time_source="payload time")


def test_tls_broker(sources: list[MqttSource]) -> None:
    try:
        broker = start_broker(tls=True)
    except BrokerUnavailable as err:
        pytest.skip(str(err))
    assert broker.ca_file is not None
    try:
        unverified = MqttSource(broker.host, broker.port, tls=True)  # the system's CAs
        sources.append(unverified)
        with pytest.raises(SourceError, match="CERTIFICATE_VERIFY_FAILED"):
            unverified.start()
        src = open_source(f"mqtts://localhost:{broker.port}/plant/#", ca_file=str(broker.ca_file))
        assert isinstance(src, MqttSource)
        sources.append(src)
        src.start()
        pub = Client(CallbackAPIVersion.VERSION2)
        pub.tls_set(ca_certs=str(broker.ca_file))
        pub.connect("localhost", broker.port)
        pub.loop_start()
        try:
            pub.publish("plant/x", json.dumps({"v": 1.5}), qos=1).wait_for_publish(timeout=5)
        finally:
            pub.disconnect()
            pub.loop_stop()
        _t, v = _collect(src, 1)
        assert v.tolist() == [[1.5]]
        src.close()
    finally:
        remove(broker)
