"""The alarm system's headless core: profiles, the engine, baselines and replays."""

from katmonitor.alarms.baseline import compute_baseline
from katmonitor.alarms.engine import AlarmEngine
from katmonitor.alarms.model import (
    ActiveAlarm,
    AlarmEvent,
    AlarmSettingError,
    AudioState,
    Priority,
)
from katmonitor.alarms.profile import (
    AlarmProfile,
    Latching,
    load_profile,
    profile_for_route,
    shipped_profiles,
)

__all__ = [
    "ActiveAlarm",
    "AlarmEngine",
    "AlarmEvent",
    "AlarmProfile",
    "AlarmSettingError",
    "AudioState",
    "Latching",
    "Priority",
    "compute_baseline",
    "load_profile",
    "profile_for_route",
    "shipped_profiles",
]
