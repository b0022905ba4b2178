"""Core subscriptions (``Session.subscribe``, ``Review.subscribe``) that end with a Qt object.

The session and its reviews outlive the widgets that show them (a test's review, a window
closed while its session lives on): a listener left behind would call into a deleted
widget on the next change. A view keeps its unsubscribe functions in one
:class:`Subscriptions` and they all run when the widget is destroyed.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

Unsubscribe = Callable[[], None]


class Subscriptions:
    """Named unsubscribe functions, all called when ``owner`` is destroyed."""

    def __init__(self, owner: QObject) -> None:
        self._ends: dict[str, Unsubscribe] = {}
        ends = self._ends  # not self: the connection must not keep the holder's owner alive
        owner.destroyed.connect(lambda *_: [end() for end in list(ends.values())])

    def set(self, name: str, unsubscribe: Unsubscribe | None) -> None:
        """End the subscription called ``name`` (if any) and keep ``unsubscribe`` in its
        place."""
        end = self._ends.pop(name, None)
        if end is not None:
            end()
        if unsubscribe is not None:
            self._ends[name] = unsubscribe
