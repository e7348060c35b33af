"""A signed addendum to a signed session record: a correction or a note (signing and checking
them is :mod:`katmonitor.addenda`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from katmonitor.base.errors import ConfigurationError
from katmonitor.base.samples import iso_utc
from katmonitor.users import Role


class AddendumKind(StrEnum):
    CORRECTION = "correction"
    NOTE = "note"


# Who may add what (trainees add nothing; a disabled user cannot sign in at all).
MAY_ADD: dict[AddendumKind, frozenset[Role]] = {
    AddendumKind.NOTE: frozenset({Role.NURSE, Role.THERAPIST, Role.ADMINISTRATOR}),
    AddendumKind.CORRECTION: frozenset({Role.NURSE}),
}


@dataclass(frozen=True, slots=True)
class Addendum:
    id: int
    session_id: int
    kind: AddendumKind
    text: str
    user: str
    printed_name: str
    role: str
    created_at: float
    amends_signature_id: int
    amends_chain_head: str
    key_id: int
    signature: bytes

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": str(self.kind),
            "text": self.text,
            "user": self.user,
            "printed_name": self.printed_name,
            "role": self.role,
            "time": iso_utc(self.created_at),
            "amends_signature": self.amends_signature_id,
            "amends_chain_head": self.amends_chain_head,
            "key_id": self.key_id,
        }


def parse_kind(text: str) -> AddendumKind:
    try:
        return AddendumKind(text.strip().lower())
    except ValueError:
        choices = " or ".join(k.value for k in AddendumKind)
        raise ConfigurationError(
            f"unknown kind of addendum {text!r}", f"choose {choices}"
        ) from None
