"""``katmonitor review``: its refusals come as messages, before any window opens."""

from __future__ import annotations

import pytest
from cli_runner import katmonitor


def test_review_of_a_missing_session_is_refused(sqlite_url: str) -> None:
    result = katmonitor("review", "999", "--db", sqlite_url)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no session 999" in result.stderr


def test_review_without_a_display_says_so(sqlite_url: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(variable, raising=False)
    result = katmonitor("review", "--db", sqlite_url)
    assert result.returncode == 2 and "no display" in result.stderr
    assert "sessions show" in result.stderr


def test_review_is_listed_among_the_commands() -> None:
    assert "review" in katmonitor("--help").stdout
