"""A live source from what a person types: a CSV path or an MQTT URL.

``mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC`` (``mqtts://`` for TLS, port 8883 by default,
1883 for ``mqtt://``). The topic is everything after the first ``/`` behind the host, so the
wildcards ``+`` and ``#`` are written as they are (``#`` is no URL fragment here); several
topics are separated by commas; ``%XX`` escapes are undone (``%23`` is ``#``, ``%2C`` a comma
inside a topic), and so are those of the user name and password. No topic means ``#``.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from faultlens.core.live.csv_source import CsvFollower
from faultlens.core.live.mqtt_source import MqttSource
from faultlens.core.live.source import Source, SourceError

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
_USAGE = "use a CSV file's path or mqtt://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC"


def open_source(spec: str | Path, **options: Any) -> Source:
    """The source ``spec`` names, not started yet. ``options`` go to the source's
    constructor (``from_start``, ``options`` for a CSV; ``channels``, ``time_source``,
    ``ca_file``, ... for MQTT); those given in the URL win over them. Raises
    ``SourceError`` for a spec or an option that names no source."""
    text = str(spec).strip()
    if not text:
        raise SourceError(f"no source given; {_USAGE}")
    scheme, sep, rest = text.partition("://")
    if not sep:
        return _construct(CsvFollower, text, Path(text), options)
    scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise SourceError(f"{text}: {scheme}:// sources are not supported; {_USAGE}")
    netloc, _slash, topic_text = rest.partition("/")
    try:
        parts = urllib.parse.urlsplit(f"{scheme}://{netloc}")
        port = parts.port
    except ValueError as err:
        raise SourceError(f"{text}: {err}; {_USAGE}") from None
    host = parts.hostname
    if not host:
        raise SourceError(f"{text}: no broker host; {_USAGE}")
    topics = tuple(urllib.parse.unquote(t) for t in topic_text.split(",") if t) or ("#",)
    mqtt: dict[str, Any] = dict(options)
    mqtt["port"] = port if port is not None else mqtt.get("port", DEFAULT_PORTS[scheme])
    mqtt["topics"] = topics
    if parts.username is not None:
        mqtt["username"] = urllib.parse.unquote(parts.username)
    if parts.password is not None:
        mqtt["password"] = urllib.parse.unquote(parts.password)
    if scheme == "mqtts":
        mqtt["tls"] = True
    return _construct(MqttSource, text, host, mqtt)


def _construct(kind: type[Any], text: str, first: object, options: dict[str, Any]) -> Source:
    try:
        source: Source = kind(first, **options)
    except TypeError as err:
        what = "a CSV file" if kind is CsvFollower else "an MQTT source"
        raise SourceError(f"{text}: an option does not apply to {what} ({err})") from None
    except ValueError as err:
        raise SourceError(f"{text}: {err}") from None
    return source
