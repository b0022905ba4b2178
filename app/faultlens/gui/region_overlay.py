"""The review's hand-drawn regions on a SignalView, and drawing one with Shift + drag.

``RegionOverlay`` shows each region as a movable ``LinearRegionItem`` per channel plot whose
dragged edges update the review, and each decision from an earlier scan (one that matches no
event of the scan shown) as a fixed, dashed span; ``ShiftDragDrawer`` turns a Shift +
left-drag across a channel plot into a new region. Neither keeps region state: the review is
the only copy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QMouseEvent

from faultlens.core.errors import FaultLensError
from faultlens.core.review import EventDecision, Review
from faultlens.core.session import SessionChange
from faultlens.gui import app as gui_app
from faultlens.gui.signal_view import SignalView
from faultlens.gui.subscriptions import Subscriptions

REGION_BRUSH = (0, 150, 136, 55)  # teal: unlike any class colour of the event shading
REGION_PEN = (0, 121, 107, 230)
# Decisions from an earlier scan: a dashed outline, violet (grey when dismissed), so they
# read as neither a hand-drawn region nor an event of the scan shown.
EARLIER_BRUSH = (126, 87, 194, 40)
EARLIER_PEN = (94, 53, 177, 220)
EARLIER_DISMISSED_BRUSH = (120, 120, 120, 35)
EARLIER_DISMISSED_PEN = (97, 97, 97, 220)


def earlier_decision_text(decision: EventDecision) -> str:
    """What a decision from an earlier scan says, e.g. "confirmed cavitation"."""
    flagged = decision.class_name
    if decision.status == "relabelled":
        return f"relabelled {flagged} → {decision.relabel}"
    if decision.status == "unreviewed":
        return f"note on {flagged}"
    return f"{decision.status} {flagged}"


class RegionOverlay:
    """The review's hand-drawn regions on a SignalView: one movable LinearRegionItem per
    region and channel plot. Dragging an edge moves the region in the review; the items are
    rebuilt from the review after every change (the review is the only state). The review's
    decisions from an earlier scan get a fixed, dashed span each (``earlier_items``).

    With a view that follows a session, the overlay shows the current recording's review by
    itself; ``set_review`` shows a given one (a view without a session).
    """

    def __init__(self, signal_view: SignalView) -> None:
        self.signal_view = signal_view
        self.review: Review | None = None
        self.items: list[tuple[pg.PlotItem, pg.LinearRegionItem, int]] = []
        # (plot, item, decision key) for each decision from an earlier scan and plot
        self.earlier_items: list[tuple[pg.PlotItem, pg.LinearRegionItem, str]] = []
        self._subscriptions = Subscriptions(signal_view)
        # The view rebuilds its plots for each recording (the items went with them).
        signal_view.plots_rebuilt.connect(self.refresh)
        session = signal_view.session
        if session is not None:
            self._subscriptions.set("session", session.subscribe(self._on_session_changed))
            self._on_session_changed(SessionChange("current", session.current_id))

    def _on_session_changed(self, change: SessionChange) -> None:
        session = self.signal_view.session
        if session is None or change.kind not in ("current", "review", "recordings"):
            return
        entry = session.current
        review = entry.review if entry is not None else None
        if review is not self.review:
            self.set_review(review)

    def set_review(self, review: Review | None) -> None:
        self.review = review
        self._subscriptions.set(
            "review",
            review.subscribe(lambda _change: self.refresh()) if review is not None else None,
        )
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the items (also after the SignalView rebuilt its plots)."""
        for plot, item, _id in [*self.items, *self.earlier_items]:
            # The SignalView may have rebuilt (and deleted) its plots for another recording.
            with contextlib.suppress(RuntimeError):
                plot.removeItem(item)
        self.items.clear()
        self.earlier_items.clear()
        view = self.signal_view
        review = self.review
        if review is None or view.recording is None or len(view.x) != review.n_rows:
            return
        self._add_earlier_decisions(review)
        for region in review.regions:
            x0, x1 = view.row_span_x(region.start_row, region.end_row)
            for plot in view.plots.values():
                item = pg.LinearRegionItem(
                    values=(x0, x1),
                    movable=True,
                    brush=pg.mkBrush(*REGION_BRUSH),
                    pen=pg.mkPen(REGION_PEN, width=2),
                )
                item.setZValue(5)
                item.setToolTip(
                    f"Marked by hand: {region.class_name}. Drag the edges to adjust. "
                    f"{region.note}".strip()
                )
                rid = region.region_id
                item.sigRegionChangeFinished.connect(
                    lambda it, rid=rid: self._on_item_moved(rid, it)
                )
                plot.addItem(item, ignoreBounds=True)
                self.items.append((plot, item, rid))

    def _add_earlier_decisions(self, review: Review) -> None:
        view = self.signal_view
        for decision in review.orphan_decisions():
            if not 0 <= decision.start_row <= decision.end_row < review.n_rows:
                continue
            dismissed = decision.status == "dismissed"
            brush = EARLIER_DISMISSED_BRUSH if dismissed else EARLIER_BRUSH
            colour = EARLIER_DISMISSED_PEN if dismissed else EARLIER_PEN
            x0, x1 = view.row_span_x(decision.start_row, decision.end_row)
            tip = f"Decision from an earlier scan: {earlier_decision_text(decision)}"
            if decision.note:
                tip += f". {decision.note}"
            for plot in view.plots.values():
                item = pg.LinearRegionItem(
                    values=(x0, x1),
                    movable=False,
                    brush=pg.mkBrush(*brush),
                    pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
                )
                item.setZValue(4)  # under the hand-drawn regions, which can be dragged
                item.setToolTip(tip)
                plot.addItem(item, ignoreBounds=True)
                self.earlier_items.append((plot, item, decision.key))

    def x_to_row(self, x: float) -> int:
        """The row whose sample is nearest to ``x`` on the view's time axis."""
        xs = self.signal_view.x
        i = int(np.clip(np.searchsorted(xs, x), 1, len(xs) - 1))
        return i - 1 if abs(x - xs[i - 1]) <= abs(xs[i] - x) else i

    def rows_of(self, item: pg.LinearRegionItem) -> tuple[int, int]:
        x0, x1 = item.getRegion()
        return self.x_to_row(x0), self.x_to_row(x1)

    def _on_item_moved(self, region_id: int, item: pg.LinearRegionItem) -> None:
        if self.review is None:
            return
        start, end = self.rows_of(item)
        try:
            self.review.move_region(region_id, start, end)
        except FaultLensError as err:
            gui_app.show_error(self.signal_view, "Review", str(err))
            self.refresh()

    def view_rows(self) -> tuple[int, int]:
        """The middle third of the visible x range, as rows (where Draw Region puts one)."""
        x0, x1 = self.signal_view.x_range()
        third = (x1 - x0) / 3
        return self.x_to_row(x0 + third), self.x_to_row(x1 - third)


class ShiftDragDrawer(QObject):
    """Shift + left-drag across a channel plot of a SignalView draws a region by hand.

    Without Shift the plots pan and zoom as usual; with it, the press and release x positions
    go to ``on_drawn(x0, x1)`` (in the view's x units) and the ViewBox never sees the drag.
    """

    def __init__(self, signal_view: SignalView, on_drawn: Callable[[float, float], None]) -> None:
        super().__init__(signal_view)
        self.signal_view = signal_view
        self.on_drawn = on_drawn
        self._start: float | None = None
        signal_view.graphics.viewport().installEventFilter(self)

    def x_at(self, pos: QPointF) -> float | None:
        """The x value under widget position ``pos``, if it is over a channel plot."""
        graphics = self.signal_view.graphics
        scene_pos = graphics.mapToScene(pos.toPoint())
        for plot in self.signal_view.plots.values():
            if plot.isVisible() and plot.sceneBoundingRect().contains(scene_pos):
                return float(plot.vb.mapSceneToView(scene_pos).x())
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if not isinstance(event, QMouseEvent):
            return False
        if kind == QEvent.Type.MouseButtonPress:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            if shift and event.button() == Qt.MouseButton.LeftButton:
                self._start = self.x_at(event.position())
                return self._start is not None
        elif kind == QEvent.Type.MouseMove and self._start is not None:
            return True
        elif kind == QEvent.Type.MouseButtonRelease and self._start is not None:
            start, self._start = self._start, None
            end = self.x_at(event.position())
            if end is not None:
                self.on_drawn(min(start, end), max(start, end))
            return True
        return False
