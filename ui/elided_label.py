"""A one-line label that shortens its text with "…" instead of widening the window.

Why: a QLabel asks for the width of its whole text. A long alarm or device message ("ge-dri:
disconnected (missing) - serial port ... (unplugged?)", the no-audio error) then set the main
window's minimum width past the screen, and the numerics and alarm buttons were cut off exactly
when a device failed. This label asks only for a small minimum width, draws as much of the text
as fits, and shows the whole text as its tooltip when shortened. ``text()`` is the whole text.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

MIN_WIDTH_PX = 60


class ElidedLabel(QLabel):
    def __init__(self, text: str = "", parent: QWidget | None = None,
                 min_width: int = MIN_WIDTH_PX) -> None:
        super().__init__(parent)
        self._full = ""
        self._min_width = min_width
        self.setText(text)

    def setText(self, text: str) -> None:
        if text == self._full and super().text():
            return
        self._full = text
        self._elide()

    def text(self) -> str:
        """The whole text (what is drawn may be shortened: ``shown_text``)."""
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def is_elided(self) -> bool:
        return super().text() != self._full

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(self._min_width, hint.width()), hint.height())

    def sizeHint(self) -> QSize:
        # Prefer the whole text's width, but the layout may give less: it is never required.
        full = self.fontMetrics().horizontalAdvance(self._full)
        margins = self.contentsMargins()
        hint = super().sizeHint()
        return QSize(full + margins.left() + margins.right() + 2 * max(0, self.indent()),
                     hint.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event: object) -> None:
        super().changeEvent(event)  # type: ignore[arg-type]
        self._elide()  # a style sheet (padding, font) changes the room for the text

    def _elide(self) -> None:
        lines = self._full.split("\n")
        room = max(0, self.contentsRect().width() - 2)
        metrics = self.fontMetrics()
        shown = "\n".join(metrics.elidedText(line, Qt.TextElideMode.ElideRight, room)
                          for line in lines)
        if shown != super().text():
            super().setText(shown)
        tip = self._full if shown != self._full else ""
        if self.toolTip() != tip:
            self.setToolTip(tip)
