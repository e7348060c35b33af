from katmonitor.base.samples import Sample, iso_utc, parse_iso_utc
from katmonitor.base.vitals import VITALS, VitalKind, is_stale, spec_of


def test_every_kind_has_standard_codes_and_units() -> None:
    assert set(VITALS) == set(VitalKind)
    assert spec_of("hr").mdc_code == 147842 and spec_of("hr").loinc == "8867-4"
    assert spec_of("spo2").mdc_code == 150456 and spec_of("spo2").unit == "%"
    # Both NIBP codes used by PCD-01 gateways' cuff family.
    assert [spec_of(k).mdc_code for k in ("nibp_systolic", "nibp_diastolic", "nibp_mean")] == [
        150301,
        150302,
        150303,
    ]
    assert spec_of("nibp_mean").unit_mdc_code == 266016
    assert spec_of("pulse_rate").unit == "bpm"


def test_nibp_is_intermittent_and_pleth_is_a_waveform() -> None:
    assert spec_of(VitalKind.NIBP_SYSTOLIC).intermittent
    assert not spec_of(VitalKind.HR).intermittent
    assert spec_of(VitalKind.PLETH).waveform


def test_staleness_uses_each_kinds_freshness_limit() -> None:
    assert not is_stale(VitalKind.HR, 100.0, 109.0)
    assert is_stale(VitalKind.HR, 100.0, 111.0)
    # A 5-minute-old blood pressure is still the current one; a 20-minute-old one is not.
    assert not is_stale(VitalKind.NIBP_SYSTOLIC, 0.0, 300.0)
    assert is_stale(VitalKind.NIBP_SYSTOLIC, 0.0, 1200.0)


def test_sample_json_line_format() -> None:
    line = Sample(
        1_800_000_000.25, "sim", VitalKind.SPO2, 97.0, frozenset({"b", "a"})
    ).to_json_dict()
    assert line == {
        "time": "2027-01-15T08:00:00.250Z",
        "source": "sim",
        "kind": "spo2",
        "value": 97.0,
        "unit": "%",
        "status": ["a", "b"],
    }
    assert parse_iso_utc(line["time"]) == 1_800_000_000.25
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"
