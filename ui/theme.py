"""Dim-room look: a dark Fusion palette, one colour per vital, and the font sizes.

The dosing room is dark and calm. Nothing here is bright white: text is a soft grey and the
vital colours are monitor conventions (HR green, SpO2 cyan, NIBP pale red) toned down so the
screen does not glare, while the numerics stay readable from about 3 m.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from katmonitor.base.vitals import VitalKind

# -- surfaces and text ------------------------------------------------------------------------
BACKGROUND = "#07090c"
PANEL = "#10141a"
PANEL_BORDER = "#232a33"
TEXT = "#b9c0c8"
TEXT_DIM = "#7c848e"
STALE = "#5c636c"
ALARM = "#ff4a4a"
TECHNICAL_ALARM = "#f0b400"  # device/link problems: amber, distinct from physiological red
ALARM_BACKGROUND = "#3a0d0d"
# IEC 60601-1-8 priority colours (alarm bar and flashing tiles): high red, medium yellow,
# low cyan. Text on a lit (flash "on") entry is near-black for contrast.
ALARM_HIGH = "#ff3b3b"
ALARM_MEDIUM = "#f2d21b"
ALARM_LOW = "#3cc8dc"
ALARM_LIT_TEXT = "#0a0a0a"
AUDIO_PAUSED = "#f2d21b"
# A lit tile is filled with a dark shade of its alarm colour so its big value stays readable.
FLASH_BACKGROUND = {ALARM_HIGH: "#6e1010", ALARM_MEDIUM: "#5a4b00", ALARM_LOW: "#0d4750"}
TRAINING_BANNER = "#b85c00"
TRAINING_TEXT = "#0a0a0a"
RECORDING = "#e04848"
MARKER_DOSE = "#d6a640"
MARKER_OBSERVATION = "#8f8fd8"
MARKER_SESSION = "#6f7a86"
GRID = "#161b21"
GRID_ALPHA = 0.12

# -- the dosing workflow ------------------------------------------------------------------------
# Prompts that need the nurse: due amber text, overdue amber on a dark amber fill, escalated red
# on a dark red fill (the alarm colours, so "red" keeps one meaning on this screen). Each state
# is also spelled out in the text: colour is never the only cue.
WORKFLOW_OK = "#5ac46e"
PROMPT_DUE = "#f0b400"
PROMPT_OVERDUE = "#f0b400"
PROMPT_OVERDUE_BACKGROUND = "#3a2e00"
PROMPT_ESCALATED = ALARM_HIGH
PROMPT_ESCALATED_BACKGROUND = ALARM_BACKGROUND
PROMPT_DONE = TEXT_DIM
PROMPT_MISSED = "#c07a7a"

# -- per vital --------------------------------------------------------------------------------
HR = "#4fd36b"
SPO2 = "#37c6d8"
PR = "#3aa7b8"  # pulse rate comes from the oximeter: a darker shade of the SpO2 colour
NIBP = "#e8b4b4"
NIBP_BAR = "#b86a6a"
PI = "#9aa1a9"
PLETH = SPO2

VITAL_COLOURS: dict[VitalKind, str] = {
    VitalKind.HR: HR,
    VitalKind.PULSE_RATE: PR,
    VitalKind.SPO2: SPO2,
    VitalKind.NIBP_SYSTOLIC: NIBP,
    VitalKind.NIBP_DIASTOLIC: NIBP,
    VitalKind.NIBP_MEAN: NIBP,
    VitalKind.PERFUSION_INDEX: PI,
    VitalKind.PLETH: PLETH,
}

# -- font sizes (pixels, so they do not depend on the screen's DPI setting) ----------------------
# About 70 px digits are ~2 cm tall on a 24" full-HD screen: readable across the room.
BIG_NUMERIC_PX = 76  # HR, SpO2, PR
NIBP_NUMERIC_PX = 56  # sys/dia
SMALL_NUMERIC_PX = 40  # PI
TILE_LABEL_PX = 18
TILE_DETAIL_PX = 15
MARKER_LABEL_PX = 13
HEADER_PX = 18
TIMER_PX = 34  # the spray rest and observation countdowns: readable from the chair
BASE_PX = 14


def font(pixel_size: int, *, bold: bool = False) -> QFont:
    f = QFont()
    f.setPixelSize(pixel_size)
    f.setBold(bold)
    return f


def numeric_font(pixel_size: int) -> QFont:
    f = font(pixel_size, bold=True)
    f.setStyleHint(QFont.StyleHint.SansSerif)
    return f


def colour(name: str) -> QColor:
    return QColor(name)


def dark_palette() -> QPalette:
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    p.setColor(role.Window, QColor(BACKGROUND))
    p.setColor(role.WindowText, QColor(TEXT))
    p.setColor(role.Base, QColor(PANEL))
    p.setColor(role.AlternateBase, QColor("#161b22"))
    p.setColor(role.ToolTipBase, QColor(PANEL))
    p.setColor(role.ToolTipText, QColor(TEXT))
    p.setColor(role.PlaceholderText, QColor(TEXT_DIM))
    p.setColor(role.Text, QColor(TEXT))
    p.setColor(role.Button, QColor("#1a2029"))
    p.setColor(role.ButtonText, QColor(TEXT))
    p.setColor(role.BrightText, QColor(ALARM))
    p.setColor(role.Highlight, QColor("#2c4a66"))
    p.setColor(role.HighlightedText, QColor("#e0e4e8"))
    p.setColor(role.Link, QColor(SPO2))
    p.setColor(role.Light, QColor("#2a313b"))
    p.setColor(role.Midlight, QColor("#1f252e"))
    p.setColor(role.Mid, QColor("#171c23"))
    p.setColor(role.Dark, QColor("#05070a"))
    p.setColor(role.Shadow, QColor("#000000"))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, QColor(STALE))
    return p


STYLE_SHEET = f"""
QToolBar {{ background: {PANEL}; border: none; spacing: 6px; padding: 2px; }}
QToolButton {{ color: {TEXT}; padding: 4px 10px; border: 1px solid {PANEL_BORDER};
              border-radius: 3px; }}
QToolButton:checked {{ background: #22303e; border-color: #3d5366; }}
QToolButton:disabled {{ color: {STALE}; border-color: #1a1f26; }}
QStatusBar {{ background: {PANEL}; color: {TEXT_DIM}; }}
QMenuBar {{ background: {PANEL}; color: {TEXT}; }}
QListWidget {{ background: {PANEL}; border: 1px solid {PANEL_BORDER}; }}
"""


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setFont(font(BASE_PX))
    app.setStyleSheet(STYLE_SHEET)
