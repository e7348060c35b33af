"""The clinic's security settings: defaults, overrides, and refusal of anything that would
weaken lockout or the idle lock by mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from katmonitor.base.errors import ConfigurationError
from katmonitor.security_policy import SecurityPolicy, load_security_policy


def test_defaults_without_a_file(tmp_path: Path) -> None:
    policy = load_security_policy(tmp_path / "security.json")
    assert policy == SecurityPolicy()
    assert (policy.lockout_failures, policy.lockout_window_s, policy.lockout_s) == (5, 600, 900)
    assert policy.idle_lock_s == 600


def test_a_clinic_sets_its_own_values(tmp_path: Path) -> None:
    path = tmp_path / "security.json"
    path.write_text('{"lockout_min": 30, "idle_lock_min": 5}', encoding="utf-8")
    policy = load_security_policy(path)
    assert (policy.lockout_s, policy.idle_lock_s, policy.lockout_failures) == (1800, 300, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"lockout_failures": 1000}', "lockout_failures .* must be 3 to 20"),
        ('{"idle_lock_min": 1e9}', "idle_lock_min .* must be 1 to 120"),
        ('{"lockout_min": NaN}', "whole number"),
        ('{"lockout_min": "15"}', "whole number"),
        ('{"lockout_min": true}', "whole number"),
        ('{"idle_lock": 5}', "unknown key 'idle_lock'"),
        ("[1, 2]", "not an object"),
        ("{", "damaged"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "security.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        load_security_policy(path)


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "security.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigurationError, match="damaged"):
        load_security_policy(path)
