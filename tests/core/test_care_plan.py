"""The clinic's care plan: shipped values, a clinic file merged over them, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import katmonitor, without_the_window

from katmonitor.base.errors import ConfigurationError
from katmonitor.care_plan import load_care_plan
from katmonitor.session import Route


def test_the_shipped_plan_follows_the_esketamine_label() -> None:
    plan = load_care_plan()
    intranasal = plan.for_route(Route.INTRANASAL)
    assert intranasal.observation_minimum_s == 2 * 3600
    assert intranasal.bp_recheck_s == 40 * 60
    assert (intranasal.spray_device_mg, intranasal.spray_rest_s) == (28, 300)
    assert (plan.gate.systolic_max, plan.gate.diastolic_max) == (140, 90)
    rems = {item.rems for item in plan.eligibility if item.rems}
    assert rems == {
        "concomitant_benzodiazepines",
        "concomitant_non_benzodiazepine_hypnotics",
        "concomitant_psychostimulants",
        "concomitant_maois",
    }


def test_a_clinic_file_changes_only_what_it_names(tmp_path: Path) -> None:
    clinic = tmp_path / "north-clinic.toml"
    clinic.write_text(
        "[gate]\nsystolic_max = 160\n\n[routes.iv]\nobservation_minimum_min = 120\n"
        "\n[assessments]\ncadss_form = \"cadss23\"\n"
    )
    plan = load_care_plan(clinic)
    assert plan.name == "north-clinic"
    assert (plan.gate.systolic_max, plan.gate.diastolic_max) == (160, 90)
    assert plan.for_route(Route.IV).observation_minimum_s == 2 * 3600
    assert plan.for_route(Route.IV).nibp_cycle_s == 10 * 60  # kept from the shipped plan
    assert plan.cadss_form == "cadss23"
    assert len(plan.eligibility) == 8


def test_a_clinic_list_of_questions_replaces_the_shipped_one(tmp_path: Path) -> None:
    clinic = tmp_path / "short.toml"
    clinic.write_text(
        '[[eligibility]]\nid = "fasted"\nquestion = "Fasted for 2 hours?"\nacceptable = true\n'
    )
    plan = load_care_plan(clinic)
    assert [(i.id, i.acceptable) for i in plan.eligibility] == [("fasted", True)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[gate]\nsystolic_max = 'high'\n", "gate.systolic_max must be a number from 60 to 260"),
        ("[routes.intranasal]\nnibp_cycle_min = 0\n", "nibp_cycle_min must be more than 0"),
        ("[timing]\nescalate_after_min = 1\n", "escalate_after_min must not be less"),
        ("[assessments]\ncadss_form = 'cadss12'\n", "cadss_form must be one of"),
        ("[[eligibility]]\nid = 'x'\nquestion = 'Q?'\n", r"eligibility\[0\]\.acceptable"),
        ("[gate\n", "not valid TOML"),
    ],
)
def test_bad_care_plans_are_refused_naming_the_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    clinic = tmp_path / "clinic.toml"
    clinic.write_text(text)
    with pytest.raises(ConfigurationError, match=message) as raised:
        load_care_plan(clinic)
    assert str(clinic) in raised.value.message


def test_care_plan_command_shows_the_plan_and_reports_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = katmonitor("care-plan")
    assert shown.returncode == 0
    assert "pre-dose gate: BP at most 140/90 mmHg, HR at most 100/min" in shown.stdout
    assert "intranasal  observe >= 120, BP re-check 40" in shown.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[gate]\ndiastolic_max = 500\n")
    refused = katmonitor("care-plan", str(bad))
    assert refused.returncode == 2
    assert "gate.diastolic_max must be a number from 30 to 160" in refused.stderr
    assert "Traceback" not in refused.stderr
    without_the_window(monkeypatch)
    missing = katmonitor("run", "--care-plan", str(tmp_path / "none.toml"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
