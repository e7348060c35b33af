"""``katmonitor care-plan``: show the care plan in force."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from katmonitor.cli.common import EXIT_OK
from katmonitor.text import printable

if TYPE_CHECKING:
    from katmonitor.cli.common import Subcommands


def register(commands: Subcommands, db: argparse.ArgumentParser) -> None:
    care_plan = commands.add_parser(
        "care-plan", help="show the care plan in force: eligibility, gate, schedule per route"
    )
    care_plan.add_argument("file", nargs="?", type=Path, help="a clinic's care plan TOML")
    care_plan.set_defaults(handler=cmd_care_plan)


def cmd_care_plan(args: argparse.Namespace) -> int:
    from katmonitor.care_plan import load_care_plan

    plan = load_care_plan(args.file)
    print(f"Care plan {printable(plan.name)!r} ({printable(plan.source)})")
    print(f"  pre-dose gate: {plan.gate.describe()}; NIBP at most "
          f"{plan.gate.max_reading_age_s / 60:g} min old")
    print(f"  prompts: due {plan.due_lead_s / 60:g} min early, overdue after "
          f"{plan.overdue_after_s / 60:g} min, escalated after {plan.escalate_after_s / 60:g} min")
    print(f"  dissociation scale: {plan.cadss_form}")
    print("  eligibility (a different answer blocks the dose until a reason is recorded):")
    for item in plan.eligibility:
        rems = f"  [REMS: {printable(item.rems)}]" if item.rems else ""
        answer = "yes" if item.acceptable else "no"
        print(f"    {printable(item.id):<26} {printable(item.question)} -> {answer}{rems}")
    print("  schedule per route (minutes after the first dose):")
    for route, r in plan.routes.items():
        parts = [f"observe >= {r.observation_minimum_s / 60:g}"]
        if r.bp_recheck_s is not None:
            parts.append(f"BP re-check {r.bp_recheck_s / 60:g}")
        if r.nibp_cycle_s is not None:
            parts.append(f"NIBP every {r.nibp_cycle_s / 60:g}")
        if r.assessment_every_s is not None:
            parts.append(f"MOAA/S+CADSS every {r.assessment_every_s / 60:g}")
        if r.spray_rest_s is not None:
            parts.append(f"{r.spray_device_mg:g} mg devices, rest {r.spray_rest_s / 60:g}")
        print(f"    {route.value:<11} {', '.join(parts)}")
    return EXIT_OK
