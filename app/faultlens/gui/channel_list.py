"""ChannelList: the signal view's channel picker, made for recordings with hundreds of
channels: a filter box, "All" / "None" / "Only these" buttons, and channels that share a name
prefix (the text before the first "_" or ".") gathered in collapsible groups with a
tri-state check.

The list holds no visibility of its own that the view does not: it *asks* for changes with
``visibility_requested`` (one dict per user action, so "None" on 200 channels is one relayout),
and the view ticks it back with ``set_visible``.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

_PREFIX = re.compile(r"^([^_.]+)[_.]")


def channel_groups(names: list[str]) -> list[tuple[str | None, list[str]]]:
    """``names`` in order, as ``(prefix, members)``: a prefix (text before the first "_" or
    ".") shared by two or more channels makes a group, placed where its first member was;
    every other channel is its own ``(None, [name])``."""
    prefixes = [m.group(1) if (m := _PREFIX.match(n)) else None for n in names]
    counts: dict[str, int] = {}
    for p in prefixes:
        if p is not None:
            counts[p] = counts.get(p, 0) + 1
    groups: list[tuple[str | None, list[str]]] = []
    by_prefix: dict[str, list[str]] = {}
    for name, prefix in zip(names, prefixes, strict=True):
        if prefix is not None and counts[prefix] >= 2:
            if prefix not in by_prefix:
                by_prefix[prefix] = []
                groups.append((prefix, by_prefix[prefix]))
            by_prefix[prefix].append(name)
        else:
            groups.append((None, [name]))
    return groups


class ChannelList(QWidget):
    """Filter box, All/None/Only these, and the channels (grouped by prefix) to tick."""

    visibility_requested = Signal(object)  # dict[str, bool]: the channels to show or hide
    file_order_requested = Signal()  # "File order": the plots back in the file's order

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("channel_filter")
        self.filter_edit.setPlaceholderText("Filter channels")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Show only the channels whose name contains this text")
        self.filter_edit.textChanged.connect(self._on_filter_text_changed)
        self.all_button = QPushButton("All")
        self.all_button.setToolTip("Show every channel")
        self.none_button = QPushButton("None")
        self.none_button.setToolTip("Hide every channel")
        self.only_button = QPushButton("Only these")
        self.only_button.setToolTip("Show the channels the filter lists and hide the others")
        self.all_button.clicked.connect(lambda: self._request_all(True))
        self.none_button.clicked.connect(lambda: self._request_all(False))
        self.only_button.clicked.connect(self._on_only_clicked)
        self.tree = QTreeWidget()
        self.tree.setObjectName("channel_list")
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setToolTip("Tick a channel (or a group) to show it, untick to hide it")
        self.tree.itemChanged.connect(self._on_item_changed)
        # While an event's evidence orders the plots: says so, with the way back.
        self.order_note = QLabel("Event's channels first")
        self.order_note.setToolTip(
            "The selected event's top channels stand first, marked with their share of the "
            "evidence; the others follow in the file's order"
        )
        self.file_order_button = QPushButton("File order")
        self.file_order_button.setObjectName("file_order_button")
        self.file_order_button.setToolTip("Put the channels back in the file's order")
        self.file_order_button.clicked.connect(self.file_order_requested.emit)
        self.order_bar = QWidget()
        order_layout = QHBoxLayout(self.order_bar)
        order_layout.setContentsMargins(0, 0, 0, 0)
        order_layout.addWidget(self.order_note, 1)
        order_layout.addWidget(self.file_order_button)
        self.order_bar.setVisible(False)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(2)
        for button in (self.all_button, self.none_button, self.only_button):
            # A narrow list (a small window) may clip the labels rather than take plot width.
            button.setMinimumWidth(24)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.filter_edit)
        layout.addLayout(buttons)
        layout.addWidget(self.order_bar)
        layout.addWidget(self.tree)
        self._items: dict[str, QTreeWidgetItem] = {}
        self.marks: dict[str, str] = {}
        self._groups: list[QTreeWidgetItem] = []

    # ------------------------------------------------------------------ content
    def set_channels(self, names: list[str], hidden: set[str]) -> None:
        """List ``names`` (grouped), ticked unless in ``hidden``; the filter stays, the marks
        go."""
        self.marks = {}
        self.order_bar.setVisible(False)
        self.tree.blockSignals(True)
        self.tree.clear()
        self._items.clear()
        self._groups.clear()
        for prefix, members in channel_groups(names):
            parent: QTreeWidget | QTreeWidgetItem = self.tree
            if prefix is not None:
                group = QTreeWidgetItem(self.tree, [f"{prefix} ({len(members)})"])
                group.setFlags(group.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                group.setToolTip(0, f"Every channel named {prefix}_… or {prefix}.…")
                self._groups.append(group)
                parent = group
            for name in members:
                item = QTreeWidgetItem(parent, [name])
                item.setFlags(
                    (item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    & ~Qt.ItemFlag.ItemIsAutoTristate
                )
                item.setData(0, Qt.ItemDataRole.UserRole, name)
                item.setCheckState(
                    0, Qt.CheckState.Unchecked if name in hidden else Qt.CheckState.Checked
                )
                self._items[name] = item
        for group in self._groups:
            self._update_group(group)
        self.tree.blockSignals(False)
        self._apply_filter()

    def item(self, name: str) -> QTreeWidgetItem:
        return self._items[name]

    def set_marks(self, marks: dict[str, str], colour: str | None = None) -> None:
        """Write ``marks`` ("41 %") after those channels' names, in ``colour`` (the theme's
        mark colour), and show the "File order" bar while there are any; ``{}`` clears.
        A hidden channel is marked too: the list is where one finds it."""
        self.marks = dict(marks)
        self.tree.blockSignals(True)
        for name, item in self._items.items():
            mark = marks.get(name, "")
            item.setText(0, f"{name}   {mark}" if mark else name)
            item.setForeground(0, QBrush(QColor(colour)) if mark and colour else QBrush())
            item.setToolTip(0, f"{name}: {mark} of the selected event's evidence" if mark else "")
            if mark and item.parent() is not None:
                item.parent().setExpanded(True)
        self.tree.blockSignals(False)
        self.order_bar.setVisible(bool(marks))

    def set_visible(self, name: str, visible: bool) -> None:
        """Tick or untick ``name`` to match the view (no request goes out)."""
        item = self._items.get(name)
        if item is None:
            return
        self.tree.blockSignals(True)
        item.setCheckState(0, Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)
        if item.parent() is not None:
            self._update_group(item.parent())
        self.tree.blockSignals(False)

    def filtered_channels(self) -> list[str]:
        """The channels the filter lets through, in order (all with an empty filter)."""
        text = self.filter_edit.text().strip().casefold()
        return [name for name in self._items if text in name.casefold()]

    # ------------------------------------------------------------------ filter and buttons
    def set_filter(self, text: str) -> None:
        self.filter_edit.setText(text)

    def _on_filter_text_changed(self, _text: str) -> None:
        self._apply_filter()

    def _apply_filter(self) -> None:
        shown = set(self.filtered_channels())
        filtering = bool(self.filter_edit.text().strip())
        for name, item in self._items.items():
            item.setHidden(name not in shown)
        for group in self._groups:
            children = [group.child(i) for i in range(group.childCount())]
            group.setHidden(all(c.isHidden() for c in children))
            if filtering:
                group.setExpanded(True)  # a match inside a collapsed group would stay unseen

    def _request_all(self, visible: bool) -> None:
        self.visibility_requested.emit({name: visible for name in self._items})

    def _on_only_clicked(self) -> None:
        shown = set(self.filtered_channels())
        self.visibility_requested.emit({name: name in shown for name in self._items})

    # ------------------------------------------------------------------ ticks
    def _on_item_changed(self, item: QTreeWidgetItem, _column: int) -> None:
        state = item.checkState(0)
        name = item.data(0, Qt.ItemDataRole.UserRole)
        if name is not None:
            if item.parent() is not None:
                self.tree.blockSignals(True)
                self._update_group(item.parent())
                self.tree.blockSignals(False)
            self.visibility_requested.emit({name: state == Qt.CheckState.Checked})
            return
        # A group: its check (a click on a partly ticked group ticks it) goes to every member.
        if state == Qt.CheckState.PartiallyChecked:
            return
        visible = state == Qt.CheckState.Checked
        self.tree.blockSignals(True)
        for i in range(item.childCount()):
            item.child(i).setCheckState(0, state)
        self.tree.blockSignals(False)
        members = [
            item.child(i).data(0, Qt.ItemDataRole.UserRole) for i in range(item.childCount())
        ]
        self.visibility_requested.emit(dict.fromkeys(members, visible))

    @staticmethod
    def _update_group(group: QTreeWidgetItem) -> None:
        states = {group.child(i).checkState(0) for i in range(group.childCount())}
        if states == {Qt.CheckState.Checked}:
            group.setCheckState(0, Qt.CheckState.Checked)
        elif states == {Qt.CheckState.Unchecked}:
            group.setCheckState(0, Qt.CheckState.Unchecked)
        else:
            group.setCheckState(0, Qt.CheckState.PartiallyChecked)
