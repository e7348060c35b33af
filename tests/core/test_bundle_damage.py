"""Damaged bundles: every flipped byte and every structural change gets a clear verdict
("bundle is damaged: ..." or a named verification failure) and a non-zero exit, never a
traceback."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from account_helpers import add_account
from bundle_damage import (
    check_verdict,
    flipped,
    is_clear_refusal,
    mutated,
    same_content,
    structural_mutations,
)
from cli_runner import katmonitor
from signing_helpers import recorded_session

from katmonitor.accounts import AccountStore
from katmonitor.addenda import add_addendum
from katmonitor.record_signing import export_bundle, sign_session, verify_bundle
from katmonitor.storage.database import open_database
from katmonitor.storage.store import SessionStore
from katmonitor.trusted_keys import TrustedKeys, trusted_keys_of

PASSWORD = "correct horse"
SEED = 20261204


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, TrustedKeys, str]:
    """A short signed session with an addendum and its checkpoints, as a bundle; the keys
    that trust it; its database."""
    tmp = tmp_path_factory.mktemp("genuine")
    url = f"sqlite:///{tmp / 'db.sqlite3'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("KATMONITOR_DATA_DIR", str(tmp / "data"))
    database = open_database(url)
    try:
        add_account(AccountStore(database), "nina", "nurse", PASSWORD, full_name="Nina Nurse RN")
        store = SessionStore(database)
        sid = recorded_session(store, minutes=2)
        sign_session(store, sid, "nina", PASSWORD)
        add_addendum(store, sid, "nina", PASSWORD, "correction", "The lot was LOT124")
        path = export_bundle(store, sid, tmp / "bundle.json")
        trusted = trusted_keys_of(store)
        assert verify_bundle(path, trusted).ok
    finally:
        database.close()
        mp.undo()
    return path.read_bytes(), trusted, url


def _flips(genuine: tuple[bytes, TrustedKeys, str], tmp_path: Path, count: int) -> None:
    original, trusted, _ = genuine
    rng = random.Random(SEED)
    path = tmp_path / "flipped.json"
    unclear = []
    for _ in range(count):
        at, data = flipped(original, rng)
        report = check_verdict(path, data, trusted)
        if not is_clear_refusal(report) and not (report.ok and same_content(original, data)):
            unclear.append((at, report.status, report.problems[:2]))
    assert not unclear, unclear[:5]


def test_flipped_bytes_sample(genuine: tuple[bytes, TrustedKeys, str], tmp_path: Path) -> None:
    _flips(genuine, tmp_path, 50)


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("KATMONITOR_FUZZ"), reason="set KATMONITOR_FUZZ=1 for the 1,000 flips"
)
def test_a_thousand_flipped_bytes(
    genuine: tuple[bytes, TrustedKeys, str], tmp_path: Path
) -> None:
    _flips(genuine, tmp_path, 1000)


def test_structural_mutations(genuine: tuple[bytes, TrustedKeys, str], tmp_path: Path) -> None:
    original, trusted, _ = genuine
    mutations = structural_mutations(json.loads(original))
    assert len(mutations) >= 100
    if not os.environ.get("KATMONITOR_FUZZ"):  # 100 of them by default (all of them: ~1 s)
        mutations = random.Random(SEED).sample(mutations, 100)
    path = tmp_path / "mutated.json"
    unclear = []
    for what, change in mutations:
        report = check_verdict(path, mutated(original, change), trusted)
        if what.startswith("delete ('checkpoints',") and report.ok:
            continue  # the rest is genuine and complete (docs/records.md: what a bundle proves)
        if not is_clear_refusal(report):
            unclear.append((what, report.status, report.problems[:2]))
    assert not unclear, unclear[:5]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b.pop("signature"), "bundle is damaged: the bundle: missing signature"),
        (
            lambda b: b["signature"].__setitem__("key_id", "1"),
            "bundle is damaged: signature.key_id: expected a whole number",
        ),
        (
            lambda b: b.__setitem__("public_key", b["public_key"][:62]),
            "bundle is damaged: public_key: 31 bytes, expected 32",
        ),
        (
            lambda b: b["entries"][0].__setitem__("seq", {"nested": [0]}),
            "bundle is damaged: entries[0].seq: expected a whole number",
        ),
        (
            lambda b: b["recorded"]["samples"].__setitem__("rows", 10**30),
            "bundle is damaged: recorded data: samples: the row count",
        ),
        (
            lambda b: b["checkpoints"][0].__setitem__("entry_count", -1),
            "bundle is damaged: checkpoints: a checkpoint's entry count -1 is not a count",
        ),
        (lambda b: b.__setitem__("version", 3), "bundle version 3 is not one"),
    ],
)
def test_damage_is_named(
    genuine: tuple[bytes, TrustedKeys, str], tmp_path: Path, change, expected: str
) -> None:
    original, trusted, _ = genuine
    report = check_verdict(tmp_path / "b.json", mutated(original, change), trusted)
    assert report.status == "invalid"
    assert expected in "\n".join(report.problems)


def test_damaged_json_text(genuine: tuple[bytes, TrustedKeys, str], tmp_path: Path) -> None:
    original, trusted, _ = genuine
    path = tmp_path / "b.json"
    for data, expected in [
        (b"[" * 100_000, "nested too deeply"),
        (b'{"format": NaN}', "not valid JSON"),
        (b'{"n": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (original[:-1000], "not valid JSON"),
        (b"\xff" + original, "not UTF-8"),
        (b"", "not valid JSON"),
    ]:
        report = check_verdict(path, data, trusted)
        assert report.status == "invalid"
        assert expected in "\n".join(report.problems), report.problems


def test_cli_damaged_bundle(genuine: tuple[bytes, TrustedKeys, str], tmp_path: Path) -> None:
    original, _, url = genuine
    path = tmp_path / "b.json"
    path.write_bytes(original.replace(b'"key_id":', b'"key_iD":', 1))
    run = katmonitor("verify", "--file", str(path), "--db", url)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "bundle is damaged" in run.stdout and "Traceback" not in run.stderr
