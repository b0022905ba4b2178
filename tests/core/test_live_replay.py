"""Replaying a recording into a growing CSV and an MQTT topic (core/live/replay.py)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from faultlens.core.io import load_recording
from faultlens.core.live.replay import (
    CsvTarget,
    MqttTarget,
    ReplayError,
    open_target,
    parse_mqtt_url,
    replay,
    schedule,
)
from faultlens.core.progress import run_to_end
from faultlens.core.recording import Recording

START = 1_709_532_000.0  # 2024-03-04T06:00:00 UTC


def small_recording(n: int = 40, kind: str = "datetime", step: float = 0.5) -> Recording:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(n, 3)).astype(np.float32) * 10
    data[3, 1] = np.nan  # a missing value travels as a missing value
    time_axis = START + step * np.arange(n) if kind == "datetime" else step * np.arange(n)
    rec = Recording.from_arrays(data, ["a", "b", "c"], time=time_axis, time_kind=kind)  # type: ignore[arg-type]
    rec.time_column = "timestamp"
    return rec


@pytest.mark.parametrize("kind", ["datetime", "seconds"])
def test_a_csv_replay_reads_back_as_the_same_rows(tmp_path: Path, kind: str) -> None:
    rec = small_recording(kind=kind)
    out = tmp_path / "logger.csv"
    reports = []
    result = run_to_end(replay(rec, CsvTarget(out), rate=2000), reports.append)
    assert result.rows_sent == rec.n_rows and not result.stopped
    assert sum(r.n_rows for r in reports) == rec.n_rows
    assert [r.first_row for r in reports] == sorted({r.first_row for r in reports})
    back = load_recording(out)
    assert back.channels == rec.channels and back.time_kind == kind
    assert back.time_column == "timestamp"
    np.testing.assert_array_equal(back.data, rec.data)  # float32 exact, NaN where NaN
    np.testing.assert_allclose(back.time, rec.time, rtol=0, atol=1e-6)
    # Numbers as a logger writes them: the float32's shortest text, not its float64 widening.
    first = out.read_text().splitlines()[1]
    assert str(rec.data[0, 0]) in first and len(first) < 80


def test_pace_follows_the_recorded_time_times_speed(tmp_path: Path) -> None:
    rec = small_recording(n=21, step=0.5)  # 10 s recorded
    due = schedule(rec, speed=50.0)
    np.testing.assert_allclose(due, np.arange(21) * 0.01)
    np.testing.assert_allclose(schedule(rec, rate=4.0), np.arange(21) / 4.0)
    began = time.monotonic()
    run_to_end(replay(rec, CsvTarget(tmp_path / "x.csv"), speed=50.0))
    # Not sooner than the last row is due (an upper bound would only measure the machine).
    assert time.monotonic() - began >= due[-1]


def test_time_going_backwards_is_not_waited_for() -> None:
    rec = small_recording(n=5, kind="seconds", step=1.0)
    assert rec.time is not None
    rec.time[:] = [0.0, 1.0, 0.5, 3.0, 4.0]
    np.testing.assert_allclose(schedule(rec), [0.0, 1.0, 1.0, 3.0, 4.0])


def test_loop_runs_on_until_stopped_with_time_increasing(tmp_path: Path) -> None:
    rec = small_recording(n=10, kind="seconds", step=1.0)
    out = tmp_path / "loop.csv"
    gen = replay(rec, CsvTarget(out), rate=5000, loop=True, should_stop=lambda: sent[0] >= 35)
    sent = [0]
    result = run_to_end(gen, lambda r: sent.__setitem__(0, r.rows_sent))
    assert result.stopped and result.rows_sent >= 35
    back = load_recording(out)
    assert back.n_rows == result.rows_sent
    assert back.time is not None and (np.diff(back.time) > 0).all()
    np.testing.assert_array_equal(back.data[10:20], rec.data)  # the second pass: same rows
    np.testing.assert_allclose(back.time[10], 10.0)  # shifted by span + one interval


def test_now_stamps_make_the_first_row_now(tmp_path: Path) -> None:
    rec = small_recording(n=5, kind="seconds", step=1.0)
    out = tmp_path / "now.csv"
    before = time.time()
    run_to_end(replay(rec, CsvTarget(out), rate=1000, stamp="now"))
    back = load_recording(out)
    assert back.time_kind == "datetime" and back.time is not None
    assert before - 1 <= back.time[0] <= time.time()
    np.testing.assert_allclose(np.diff(back.time), 0.001, atol=1e-5)


def test_addresses_and_targets_say_what_is_wrong(tmp_path: Path) -> None:
    address = parse_mqtt_url("mqtt://user:p%40ss@broker.local:1884/plant/pump")
    assert (address.host, address.port, address.topic) == ("broker.local", 1884, "plant/pump")
    assert (address.username, address.password) == ("user", "p@ss")
    assert "p@ss" not in str(address)  # never printed
    assert parse_mqtt_url("mqtt://h/t").port == 1883
    secure = parse_mqtt_url("mqtts://h/t")
    assert secure.tls and secure.port == 8883 and str(secure) == "mqtts://h:8883/t"
    for bad, words in [
        ("mqtt://host", "no topic"),
        ("mqtt://:1883/t", "no broker host"),
        ("mqtt://h:99999/t", "port"),
        ("http://h/t", "not an mqtt://"),
    ]:
        with pytest.raises(ReplayError, match=words):
            parse_mqtt_url(bad)
    with pytest.raises(ReplayError, match="wildcard"):
        open_target("mqtt://h/plant/#")
    with pytest.raises(ReplayError, match=r"\.csv"):
        open_target(str(tmp_path / "out.json"))
    with pytest.raises(ReplayError, match="does not exist"):
        run_to_end(replay(small_recording(), open_target(str(tmp_path / "no" / "x.csv"))))
    assert isinstance(open_target(str(tmp_path / "x.csv")), CsvTarget)
    login = open_target("mqtt://op@h/t", password="secret")
    assert isinstance(login, MqttTarget) and login.address.username == "op"
    assert login.address.password == "secret"


def test_a_broker_that_is_not_there_is_a_clear_error(unused_port: int) -> None:
    target = MqttTarget(parse_mqtt_url(f"mqtt://127.0.0.1:{unused_port}/t"))
    with pytest.raises(ReplayError, match="cannot connect to the broker"):
        run_to_end(replay(small_recording(), target))


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mqtt_replay_publishes_one_json_object_per_row(mqtt_broker) -> None:
    import json
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    rec = small_recording(n=30)
    got: list[dict] = []
    subscribed, done = threading.Event(), threading.Event()

    def on_message(client, userdata, message) -> None:  # paho's thread
        got.append(json.loads(message.payload))
        if len(got) == rec.n_rows:
            done.set()

    listener = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    listener.on_connect = lambda c, *_: c.subscribe("plant/#", qos=1)
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.on_message = on_message
    listener.connect(mqtt_broker.host, mqtt_broker.port)
    listener.loop_start()
    try:
        assert subscribed.wait(10), "the listener did not subscribe"
        url = f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}/plant/pump"
        result = run_to_end(replay(rec, open_target(url), rate=500))
        assert result.rows_sent == rec.n_rows
        assert done.wait(10), f"{len(got)} of {rec.n_rows} messages arrived"
    finally:
        listener.loop_stop()
        listener.disconnect()
    assert list(got[0]) == ["time", "a", "b", "c"]
    assert got[0]["time"] == "2024-03-04T06:00:00+00:00"  # UTC said, never guessed
    assert got[3]["b"] is None  # the missing value
    values = np.array([[np.nan if m[c] is None else m[c] for c in "abc"] for m in got])
    np.testing.assert_array_equal(values.astype(np.float32), rec.data)  # float32 exact
