"""Who uses KAT Monitor: roles and user accounts as the rest of the app sees them (the
passwords and keys behind them are :mod:`katmonitor.accounts`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from katmonitor.base.errors import ConfigurationError


class Role(StrEnum):
    NURSE = "nurse"
    THERAPIST = "therapist"
    ADMINISTRATOR = "administrator"
    TRAINEE = "trainee"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    full_name: str
    role: Role
    disabled: bool
    created_at: float
    key_id: int | None = None
    """The current signing key (None only if the account was damaged)."""
    locked_until: float | None = None
    """Until when failed passwords keep the account locked (None: not locked; a time in the
    past: the lock has expired)."""

    def locked_at(self, now: float) -> bool:
        return self.locked_until is not None and now < self.locked_until


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise ConfigurationError(f"unknown role {text!r}", f"choose one of: {choices}") from None
