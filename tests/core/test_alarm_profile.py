"""Alarm profiles: the shipped files load, inheritance merges, bad files are named clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from katmonitor.alarms import Latching, Priority, load_profile, profile_for_route, shipped_profiles
from katmonitor.base.errors import ConfigurationError
from katmonitor.base.vitals import VitalKind
from katmonitor.session import Route


def test_every_shipped_profile_loads_and_every_route_has_one() -> None:
    names = shipped_profiles()
    assert {
        "default",
        "intranasal-esketamine",
        "sublingual-ketamine",
        "im-ketamine",
        "iv-ketamine",
    } <= set(names)
    for name in names:
        profile = load_profile(name)
        assert profile.name == name
        assert VitalKind.SPO2 in profile.parameters
    for route in Route:
        assert profile_for_route(route) in names


def test_default_profile_values() -> None:
    p = load_profile("default")
    spo2 = p.parameters[VitalKind.SPO2]
    assert spo2.low is not None and spo2.high is None
    assert (spo2.low.limit, spo2.low.priority, spo2.low.high_priority_limit) == (
        90,
        Priority.MEDIUM,
        85,
    )
    assert spo2.delay_s == 10
    assert p.audio_pause_s == 120 and p.latching is Latching.HIGH


def test_a_route_profile_inherits_and_overrides(tmp_path: Path) -> None:
    iv = load_profile("iv-ketamine")
    assert iv.latching is Latching.ALL
    systolic = iv.parameters[VitalKind.NIBP_SYSTOLIC]
    assert systolic.high is not None and systolic.high.baseline_offset == 40
    assert systolic.low is not None and systolic.low.limit == 90  # inherited
    own = tmp_path / "clinic.toml"
    own.write_text('extends = "iv-ketamine"\naudio_pause_s = 300\n[parameters.spo2]\ndelay_s = 3\n')
    clinic = load_profile(str(own))
    assert clinic.name == "clinic" and clinic.audio_pause_s == 300
    assert clinic.parameters[VitalKind.SPO2].delay_s == 3
    assert clinic.parameters[VitalKind.SPO2].low is not None
    assert clinic.latching is Latching.ALL


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (
            '[parameters.spo2]\nlow = { limit = 90, priority = "urgent" }',
            "parameters.spo2.low.priority",
            "not one of low, medium, high",
        ),
        ("[parameters.spo2]\ndelay = 10", "parameters.spo2.delay", "unknown key"),
        ('[parameters.spo2]\ndelay_s = "ten"', "parameters.spo2.delay_s", "must be a number"),
        ('latching = "sometimes"', "latching", "not one of none, high, all"),
        ("[parameters.hr]\nlow = { limit = 130 }", "parameters.hr.low.limit", "is not below"),
        (
            "[parameters.hr]\nadjust = { high = [130, 100] }",
            "parameters.hr.adjust.high",
            "above highest",
        ),
        ("[parameters.temperature]\nlow = { limit = 35 }", "parameters.temperature", "unknown key"),
        ("[parameters.spo2\n", "", "not valid TOML"),
    ],
)
def test_a_bad_profile_names_the_file_the_key_and_the_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('extends = "default"\n' + text + "\n")
    with pytest.raises(ConfigurationError) as info:
        load_profile(str(path))
    assert str(path) in info.value.message
    assert key in info.value.message and problem in info.value.message


def test_unknown_profile_and_extends_loop(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no alarm profile named 'nope'"):
        load_profile("nope")
    (tmp_path / "a.toml").write_text('extends = "b"\n')
    (tmp_path / "b.toml").write_text('extends = "a"\n')
    with pytest.raises(ConfigurationError, match="loop"):
        load_profile(str(tmp_path / "a.toml"))
