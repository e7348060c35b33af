"""Errors that are meant to be read by a user.

Anything raised as :class:`KatMonitorError` reaches the user as one clear message (what is
wrong, then what to do) and a non-zero exit status, never as a traceback.
"""

from __future__ import annotations


class KatMonitorError(Exception):
    """A problem the user can act on."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ConfigurationError(KatMonitorError):
    """Bad command-line or configuration input (unknown device spec, bad option value)."""


class DatabaseError(KatMonitorError):
    """The database cannot be opened, reached, written or upgraded."""


class NotFoundError(KatMonitorError):
    """A session or other record that was asked for does not exist."""


class SessionStateError(KatMonitorError):
    """An action that does not fit the session's state (e.g. a dose with no session running)."""


class AuthenticationError(KatMonitorError):
    """Sign-in refused: unknown user or wrong password (one message for both), or disabled."""


class PermissionDeniedError(KatMonitorError):
    """The user's role does not allow the action (e.g. only nurses sign sessions)."""
