"""The review's export buttons: PDF, FHIR, CSV and bundle of the session shown.

Each button asks where to save, then runs the same writer as ``katmonitor export`` (the
:data:`katmonitor.exports.FORMATS` registry) on the Qt pool, with a busy progress bar meanwhile;
the writer's refusal (an unsigned session has no bundle, an unwritable place) is shown as a
message, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from katmonitor.base.errors import KatMonitorError
from katmonitor.exports import DEFAULT_OPTIONS, check_writable, export_format
from katmonitor.storage.store import SessionStore
from ui import theme
from ui.background import run_in_background

BUTTONS = (("PDF", "pdf", "pdf"), ("FHIR", "fhir", "json"), ("CSV", "csv", "csv"),
           ("Bundle", "bundle", "json"))


class ReviewExports(QWidget):
    exported = Signal(object)
    """The files written (list of Path)."""
    failed = Signal(str)

    def __init__(self, store: SessionStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.session_id: int | None = None
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        row.addWidget(QLabel("Export:"))
        for label, name, suffix in BUTTONS:
            button = QPushButton(label)
            button.clicked.connect(lambda _=False, n=name, s=suffix: self._ask(n, s))
            row.addWidget(button)
            self.buttons[name] = button
        row.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the writers do not report steps
        self.progress.setVisible(False)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {theme.TEXT_DIM};")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        self.set_session(None)

    def set_session(self, session_id: int | None) -> None:
        self.session_id = session_id
        for button in self.buttons.values():
            button.setEnabled(session_id is not None)

    def _ask(self, name: str, suffix: str) -> None:
        if self.session_id is None:
            return
        default = str(Path.home() / f"session-{self.session_id}-{name}.{suffix}")
        path, _ = QFileDialog.getSaveFileName(self, f"Export {name}", default)
        if path:
            self.export(name, Path(path))

    def export(self, name: str, out: Path) -> None:
        """Write the session shown as ``name`` to ``out`` off the GUI thread."""
        session_id = self.session_id
        if session_id is None:
            return
        store = self.store

        def work() -> list[Path]:
            check_writable(out)
            return export_format(name).load()(store, session_id, out, DEFAULT_OPTIONS)

        for button in self.buttons.values():
            button.setEnabled(False)
        self.progress.setVisible(True)
        self.message.setText(f"Writing {out.name}…")
        run_in_background(work, self._done, self._failed)

    def _finish(self, text: str) -> None:
        self.progress.setVisible(False)
        self.message.setText(text)
        self.set_session(self.session_id)

    def _done(self, paths: list[Path]) -> None:
        self._finish("Written: " + ", ".join(str(p) for p in paths))
        self.exported.emit(paths)

    def _failed(self, error: Exception) -> None:
        text = str(error) if isinstance(error, KatMonitorError) else f"export failed: {error}"
        self._finish(text)
        self.failed.emit(text)
