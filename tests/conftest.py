"""Shared fixtures: where the SKAB data lives, small synthetic recordings, a real MQTT broker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker import Broker, BrokerUnavailable, remove, start_broker

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SKAB = REPO.parent / "shared" / "data" / "skab"


@pytest.fixture(scope="session")
def skab_dir() -> Path:
    if not SKAB.is_dir():
        pytest.skip("SKAB data not found at ../shared/data/skab")
    return SKAB


@pytest.fixture
def mqtt_broker() -> Iterator[Broker]:
    """A real MQTT broker on 127.0.0.1 on a free port (tests/broker.py: mosquitto, else
    amqtt), stopped after the test; skips when neither is installed."""
    try:
        broker = start_broker()
    except BrokerUnavailable as err:
        pytest.skip(str(err))
    yield broker
    remove(broker)
