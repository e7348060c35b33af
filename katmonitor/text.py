"""Text that came from outside (client ids, notes, names) made safe to print on a terminal.

A client id typed or imported with a newline, an ANSI escape or a right-to-left override would
otherwise forge lines, recolour the terminal or reorder what a reader sees.
"""

from __future__ import annotations

import unicodedata

# Bidirectional formatting characters (embeddings, overrides, isolates, marks): category Cf,
# but listed so that the intent is plain.
_BIDI = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str) -> str:
    """``text`` with control, format (bidi) and separator characters other than the space
    escaped as ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``; letters of any script are kept."""
    return "".join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    if char == " ":
        return char
    if char in _BIDI or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp", "Zs"):
        code = ord(char)
        if code < 0x100:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    return char
