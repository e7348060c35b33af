"""The record badge in the status bar: is the session's record VERIFIED, UNSIGNED or INVALID.

Verification reads the whole record (a few hundred ms for a long session), so it runs on a
worker thread (``ui/background.py``) and only when asked - when the followed session ends, after
signing, or on Record → Check record again - never per frame. A result that arrives for a
session that is no longer followed is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel, QWidget

from katmonitor.base.errors import KatMonitorError
from katmonitor.record_signing import VerificationReport
from katmonitor.session import Session
from ui import theme
from ui.background import run_in_background

MAX_PROBLEM_CHARS = 110
VERIFIED_COLOUR = "#4fd36b"


def shorten(text: str, limit: int = MAX_PROBLEM_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_detail(error: Exception) -> str:
    return str(error) if isinstance(error, KatMonitorError) else f"{type(error).__name__}: {error}"


class RecordBadge(QLabel):
    """State: "none" (no ended session), "recording", "checking", "verified", "unsigned",
    "invalid", or "error" (the record could not be read)."""

    def __init__(self, verify: Callable[[int], VerificationReport],
                 parent: QWidget | None = None) -> None:
        """``verify(session_id)``: checks the record (``Workstation.verify_record``)."""
        super().__init__(parent)
        self.verify = verify
        self.session_id: int | None = None
        self.state = "none"
        self.report: VerificationReport | None = None
        self._asked = 0  # numbers each request; only the latest one's answer is shown
        self._waiting = False
        self.setFont(theme.font(theme.BASE_PX, bold=True))
        self._set("none", "Record: no ended session", theme.TEXT_DIM,
                  "The last ended session's record is checked here.")

    # -- what to show --------------------------------------------------------------------------

    def show_nothing(self) -> None:
        self._forget()
        self.session_id = None
        self._set("none", "Record: no ended session", theme.TEXT_DIM,
                  "The last ended session's record is checked here.")

    def show_recording(self, session_id: int) -> None:
        """A running (or interrupted) session cannot be signed yet: no verification needed."""
        self._forget()
        self.session_id = session_id
        self._set("recording", f"Record #{session_id}: not ended — sign after it ends",
                  theme.TEXT_DIM, "A session is signed by the nurse once it has ended.")

    def check(self, session_id: int) -> None:
        """Verify the session's record on the worker thread; the badge shows the result."""
        self._forget()
        self.session_id = session_id
        self._set("checking", f"Record #{session_id}: checking…", theme.TEXT_DIM,
                  "Recomputing the record from the stored rows.")
        verify = self.verify
        self._ask(lambda: verify(session_id), self._show_result)

    def check_last(self, find_last: Callable[[], Session | None]) -> None:
        """Find the last ended session on the worker thread (``find_last`` reads the
        database), then check it - or show that there is none."""
        self._forget()  # what is shown stays until the session is found
        self._ask(find_last, self._show_last)

    def check_again(self) -> None:
        if self.session_id is not None and self.state != "recording":
            self.check(self.session_id)

    @property
    def busy(self) -> bool:
        return self._waiting

    # -- results -------------------------------------------------------------------------------

    def show_report(self, report: VerificationReport) -> None:
        self.report = report
        sid = self.session_id
        if report.status == "verified":
            signer = report.signer or {}
            who = signer.get("printed_name") or signer.get("user") or "?"
            self._set("verified", f"✔ VERIFIED #{sid} · signed by {who}", VERIFIED_COLOUR,
                      "\n".join(report.lines()))
        elif report.status == "unsigned":
            self._set("unsigned", f"UNSIGNED #{sid}", theme.TECHNICAL_ALARM,
                      f"Session {sid} is not signed yet: Record → Sign last session "
                      "(Ctrl+Shift+S).")
        else:
            first = report.problems[0] if report.problems else "the record does not verify"
            more = len(report.problems) - 1
            text = f"✖ INVALID #{sid}: {shorten(first)}" + (f" (+{more} more)" if more > 0 else "")
            self._set("invalid", text, theme.ALARM, "\n".join(report.lines()))

    def _show_result(self, result: VerificationReport | Exception) -> None:
        if isinstance(result, Exception):  # shown, not raised
            self._set("error", f"Record #{self.session_id}: cannot check", theme.TECHNICAL_ALARM,
                      error_detail(result))
        else:
            self.show_report(result)

    def _show_last(self, result: Session | Exception | None) -> None:
        if isinstance(result, Exception):
            self._set("error", "Record: cannot read the sessions", theme.TECHNICAL_ALARM,
                      error_detail(result))
        elif result is None:
            self.show_nothing()
        else:
            self.check(result.id)

    # -- the worker ----------------------------------------------------------------------------

    def _ask(self, work: Callable[[], Any], show: Callable[[Any], None]) -> None:
        """Run ``work`` on a worker thread; ``show`` its result (or its exception) unless
        something else was asked meanwhile."""
        self._asked += 1
        asked = self._asked
        self._waiting = True

        def answer() -> tuple[int, Callable[[Any], None], Any]:
            try:
                return asked, show, work()
            except Exception as error:
                return asked, show, error

        run_in_background(answer, self._answered, self._failed)

    def _answered(self, answer: tuple[int, Callable[[Any], None], Any]) -> None:
        asked, show, result = answer
        if asked != self._asked:
            return  # for what was shown before
        self._waiting = False
        show(result)

    @staticmethod
    def _failed(error: Exception) -> None:
        raise error  # answer() catches what work() raises: this is a bug in the badge

    def _forget(self) -> None:
        """Drop a result still being computed for what was shown before."""
        self._asked += 1
        self._waiting = False
        self.report = None

    def _set(self, state: str, text: str, colour: str, tip: str) -> None:
        self.state = state
        self.setText(text)
        self.setToolTip(tip)
        self.setStyleSheet(f"color: {colour}; padding: 0 6px;")
