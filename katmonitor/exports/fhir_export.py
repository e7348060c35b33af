"""FHIR R4 export: one Bundle (type ``collection``) as JSON, validated with ``fhir.resources``.

Resources (all ``fullUrl`` are ``urn:uuid:``; ids derive from the session uuid, so an export is
reproducible):

- Patient: only the clinic's client identifier (no name, no birth date: no PHI is recorded).
- Encounter: status ``finished`` (ended session) or ``in-progress``; period = session start/end.
- Device: one per recorded source.
- Observation (vital-signs): HR 8867-4, PR 8889-8, SpO2 59408-5, PI 61006-3, each with its LOINC
  and IEEE 11073-10101 (MDC) coding, UCUM ``valueQuantity`` and the source Device. By default
  one Observation per source, kind and UTC minute holding the **median** of the valid values in
  that minute (``effectivePeriod`` = the minute, a note gives the count): a 4-hour session at
  1 Hz would otherwise be ~60,000 resources, which no FHIR consumer wants and which hides
  nothing clinically relevant at this monitoring resolution (alarms are in the CSV export and the
  signed record). ``numerics="all"`` gives one Observation per value (``effectiveDateTime``).
- NIBP: every reading, one blood-pressure panel Observation (LOINC 85354-9, MDC_PRESS_CUFF)
  with systolic 8480-6 / diastolic 8462-4 / mean 8478-0 components.
- Readings without a valid value (sensor off, no measurement yet) and the pleth waveform are
  not exported to FHIR (the CSV export has them).
- MedicationAdministration per dose event; nurse observations as Observation ``valueString``;
  a structured assessment adds components (MOAA/S, CADSS total and form, nausea, anxiety,
  respiratory status, therapist present) coded by text: these scales have no LOINC code.
- A recording gap (the recording stopped: the app was killed, the power failed, the window was
  closed during the session) is an Observation coded ``recording-gap`` (system
  ``urn:katmonitor:record-event``) with ``dataAbsentReason`` ``error``, ``effectivePeriod`` from
  the last data before it to the reopening (to the session's end when it was closed instead),
  and a note saying what was not recorded and why: the vitals there are absent, not normal.
- Provenance for a verified signature: target the Encounter, the signer's printed name, role and
  key fingerprint, the meaning and the time (ASTM E1762 "Author's Signature"). A record that no
  longer matches its signature is not exported to FHIR (the error names what changed).
"""

from __future__ import annotations

import json
import statistics
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from katmonitor.base.errors import KatMonitorError
from katmonitor.base.samples import Sample, WaveformBlock, iso_utc
from katmonitor.base.vitals import NIBP_KINDS, VitalKind, spec_of
from katmonitor.dose_totals import unit_count_text
from katmonitor.exports import DEFAULT_OPTIONS, ExportOptions
from katmonitor.exports.files import atomic_file
from katmonitor.exports.report_data import Signature, signature_status
from katmonitor.recovery import RecordingGap, recording_gaps
from katmonitor.session import DoseEvent, Observation, Route, Session, SessionStatus
from katmonitor.storage.store import SessionStore

LOINC = "http://loinc.org"
MDC = "urn:iso:std:iso:11073:10101"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLIENT_ID_SYSTEM = "urn:katmonitor:client-id"
SESSION_ID_SYSTEM = "urn:katmonitor:session-uuid"
KEY_FINGERPRINT_SYSTEM = "urn:katmonitor:signing-key-fingerprint"
RECORD_EVENT_SYSTEM = "urn:katmonitor:record-event"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
ASTM_SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"

UCUM_UNITS = {"bpm": "/min", "%": "%", "mmHg": "mm[Hg]", "1": "1"}
LOINC_DISPLAY = {
    "8867-4": "Heart rate",
    "8889-8": "Heart rate by Pulse oximetry",
    "59408-5": "Oxygen saturation in Arterial blood by Pulse oximetry",
    "61006-3": "Perfusion index Blood Pre and post ductal Pulse oximetry",
    "8480-6": "Systolic blood pressure",
    "8462-4": "Diastolic blood pressure",
    "8478-0": "Mean blood pressure",
    "85354-9": "Blood pressure panel with all children optional",
}
BP_PANEL_LOINC = "85354-9"
MDC_PRESS_CUFF = (150300, "MDC_PRESS_CUFF")
ROUTE_SNOMED: dict[Route, tuple[str, str]] = {
    Route.INTRANASAL: ("46713006", "Nasal route"),
    Route.SUBLINGUAL: ("37839007", "Sublingual route"),
    Route.ORAL: ("26643006", "Oral route"),
    Route.IM: ("78421000", "Intramuscular route"),
    Route.IV: ("47625008", "Intravenous route"),
}


class FhirValidationError(KatMonitorError):
    """The Bundle we built does not validate: a defect, reported without a traceback."""


def write_fhir_export(
    store: SessionStore, session_id: int, out: Path, options: ExportOptions = DEFAULT_OPTIONS
) -> list[Path]:
    bundle = build_bundle(store, session_id, numerics=options.numerics)
    with atomic_file(out, overwrite=options.overwrite) as handle:
        json.dump(bundle, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    return [out]


def build_bundle(store: SessionStore, session_id: int, *, numerics: str = "minute") -> dict:
    """The Bundle as a JSON-ready dict, after validation by ``fhir.resources`` (R4B models)."""
    if numerics not in ("minute", "all"):
        raise ValueError(f"numerics must be 'minute' or 'all', not {numerics!r}")
    session = store.get_session(session_id)
    builder = _Builder(session)
    builder.add_samples(store.iter_samples(session_id), every_value=numerics == "all")
    for dose in store.doses(session_id):
        builder.add_dose(dose)
    for obs in store.observations(session_id):
        builder.add_note(obs)
    for gap in recording_gaps(store, session_id):
        builder.add_gap(gap)
    signature = signature_status(store, session_id)
    if signature.status == "invalid":
        raise KatMonitorError(
            f"session {session_id} does not match its signature: {signature.problems[0]}",
            "a FHIR export goes to other systems as the clinical record; `katmonitor verify "
            f"{session_id}` lists what changed (the csv export still works for investigation)",
        )
    if signature.status == "verified":
        builder.add_provenance(signature)
    bundle = builder.bundle()
    validate_bundle(bundle)
    return bundle


def validate_bundle(bundle: dict) -> Any:
    """Parse with the fhir.resources R4B Bundle model; raises FhirValidationError if invalid."""
    from fhir.resources.R4B.bundle import Bundle
    from pydantic.v1 import ValidationError

    try:
        return Bundle.parse_obj(bundle)
    except ValidationError as error:
        raise FhirValidationError(
            f"the FHIR Bundle does not validate: {str(error).splitlines()[0]}",
            str(error),
        ) from None


# -- building ----------------------------------------------------------------------------------


@dataclass
class _MinuteBucket:
    values: list[float] = field(default_factory=list)


class _Builder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.namespace = uuid.UUID(session.uuid)
        self.entries: list[dict[str, Any]] = []
        self.patient_ref = self._add(
            "Patient",
            "patient",
            {"identifier": [{"system": CLIENT_ID_SYSTEM, "value": session.client_id}]},
        )
        self.encounter_ref = self._add("Encounter", "encounter", self._encounter())
        self.devices: dict[str, str] = {}
        self.devices_index = len(self.entries)  # Devices go right after the Encounter

    def bundle(self) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "id": str(self.namespace),
            "identifier": {"system": SESSION_ID_SYSTEM, "value": self.session.uuid},
            "type": "collection",
            "timestamp": iso_utc(
                self.session.ended_at
                if self.session.ended_at is not None
                else self.session.started_at
            ),
            "entry": self.entries,
        }

    # -- resources --

    def _encounter(self) -> dict[str, Any]:
        s = self.session
        period = {"start": iso_utc(s.started_at)}
        if s.ended_at is not None:
            period["end"] = iso_utc(s.ended_at)
        return {
            "identifier": [{"system": SESSION_ID_SYSTEM, "value": s.uuid}],
            "status": "finished" if s.status is SessionStatus.ENDED else "in-progress",
            "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
            "type": [{"text": f"{s.medicine} dosing session ({s.route.label})"}],
            "subject": {"reference": self.patient_ref},
            "period": period,
        }

    def device(self, source: str) -> str:
        ref = self.devices.get(source)
        if ref is None:
            resource = {
                "identifier": [{"system": "urn:katmonitor:source", "value": source}],
                "deviceName": [{"name": source, "type": "user-friendly-name"}],
                "type": {"text": "Vital signs monitor"},
            }
            ref = self._add("Device", f"device:{source}", resource, at=self.devices_index)
            self.devices_index += 1
            self.devices[source] = ref
        return ref

    def add_samples(self, items: Iterable[Sample | WaveformBlock], *, every_value: bool) -> None:
        nibp: dict[tuple[str, float], dict[VitalKind, float]] = {}
        minutes: dict[tuple[str, VitalKind, int], _MinuteBucket] = {}
        for item in items:
            if isinstance(item, WaveformBlock) or item.value is None:
                continue
            if item.kind in NIBP_KINDS:
                nibp.setdefault((item.source, item.time), {})[item.kind] = float(item.value)
            elif every_value:
                self._numeric(item.source, item.kind, float(item.value), item.time, None, 1)
            else:
                key = (item.source, item.kind, int(item.time // 60))
                minutes.setdefault(key, _MinuteBucket()).values.append(float(item.value))
        rows: list[tuple[float, int, Any]] = [
            (minute * 60.0, 0, (source, kind, minute, bucket))
            for (source, kind, minute), bucket in minutes.items()
        ]
        rows += [(t, 1, (source, t, parts)) for (source, t), parts in nibp.items()]
        rows.sort(key=lambda r: (r[0], r[1], str(r[2][0]), str(r[2][1])))
        for _, which, payload in rows:
            if which == 0:
                source, kind, minute, bucket = payload
                value = statistics.median(bucket.values)
                self._numeric(
                    source, kind, value, minute * 60.0, minute * 60.0 + 60.0, len(bucket.values)
                )
            else:
                self._blood_pressure(*payload)

    def _numeric(
        self,
        source: str,
        kind: VitalKind,
        value: float,
        start: float,
        end: float | None,
        count: int,
    ) -> None:
        spec = spec_of(kind)
        resource: dict[str, Any] = {
            "status": "final",
            "category": [_vital_signs_category()],
            "code": _code(kind),
            "subject": {"reference": self.patient_ref},
            "encounter": {"reference": self.encounter_ref},
        }
        if end is None:
            resource["effectiveDateTime"] = iso_utc(start)
        else:
            resource["effectivePeriod"] = {"start": iso_utc(start), "end": iso_utc(end)}
            resource["note"] = [
                {"text": f"median of {count} valid {spec.label} value(s) in this minute"}
            ]
        resource["valueQuantity"] = _quantity(value, spec.unit)
        resource["device"] = {"reference": self.device(source)}
        self._add("Observation", f"{kind}:{source}:{start}:{end}", resource)

    def _blood_pressure(self, source: str, time: float, parts: dict[VitalKind, float]) -> None:
        components = [
            {"code": _code(kind), "valueQuantity": _quantity(parts[kind], spec_of(kind).unit)}
            for kind in NIBP_KINDS
            if kind in parts
        ]
        code, name = MDC_PRESS_CUFF
        resource = {
            "status": "final",
            "category": [_vital_signs_category()],
            "code": {
                "coding": [
                    {
                        "system": LOINC,
                        "code": BP_PANEL_LOINC,
                        "display": LOINC_DISPLAY[BP_PANEL_LOINC],
                    },
                    {"system": MDC, "code": str(code), "display": name},
                ],
                "text": "Blood pressure (NIBP)",
            },
            "subject": {"reference": self.patient_ref},
            "encounter": {"reference": self.encounter_ref},
            "effectiveDateTime": iso_utc(time),
            "device": {"reference": self.device(source)},
            "component": components,
        }
        self._add("Observation", f"nibp:{source}:{time}", resource)

    def add_dose(self, dose: DoseEvent) -> None:
        snomed, display = ROUTE_SNOMED[dose.route]
        notes = [{"text": f"lot {dose.lot}" if dose.lot else "lot not recorded"}]
        if dose.note:
            notes.append({"text": dose.note})
        resource = {
            "status": "completed",
            "medicationCodeableConcept": {"text": dose.medicine},
            "subject": {"reference": self.patient_ref},
            "context": {"reference": self.encounter_ref},
            "effectiveDateTime": iso_utc(dose.time),
            "performer": [{"actor": {"display": dose.given_by}}],
            "note": notes,
            "dosage": {
                "text": f"{dose.dose_mg:g} mg, {unit_count_text(dose.route, dose.unit_count)}",
                "route": {
                    "coding": [{"system": SNOMED, "code": snomed, "display": display}],
                    "text": dose.route.label,
                },
                "dose": {"value": dose.dose_mg, "unit": "mg", "system": UCUM, "code": "mg"},
            },
        }
        self._add("MedicationAdministration", f"dose:{dose.id}", resource)

    def add_note(self, obs: Observation) -> None:
        resource = {
            "status": "final",
            "code": {"text": "Clinical observation during the dosing session"},
            "subject": {"reference": self.patient_ref},
            "encounter": {"reference": self.encounter_ref},
            "effectiveDateTime": iso_utc(obs.time),
            "performer": [{"display": obs.author}],
            "valueString": obs.summary(),
        }
        components = _assessment_components(obs)
        if components:
            resource["code"] = {"text": "Sedation and dissociation assessment (MOAA/S, CADSS)"}
            resource["component"] = components
        self._add("Observation", f"note:{obs.id}", resource)

    def add_gap(self, gap: RecordingGap) -> None:
        end = gap.end if gap.end is not None else self.session.ended_at
        period = {"start": iso_utc(gap.start)}
        if end is not None and end >= gap.start:
            period["end"] = iso_utc(end)
        resource = {
            "status": "final",
            "code": {
                "coding": [{"system": RECORD_EVENT_SYSTEM, "code": "recording-gap",
                            "display": "Recording gap"}],
                "text": "Recording gap: vital signs not recorded",
            },
            "subject": {"reference": self.patient_ref},
            "encounter": {"reference": self.encounter_ref},
            "effectivePeriod": period,
            "dataAbsentReason": {
                "coding": [{"system": DATA_ABSENT_REASON, "code": "error", "display": "Error"}],
                "text": gap.why,
            },
            "note": [{"text": gap.text(iso_utc)}],
        }
        self._add("Observation", f"gap:{gap.start}", resource)

    def add_provenance(self, signature: Signature) -> None:
        """The nurse's signature over the session record. The Ed25519 signature itself covers
        KAT Monitor's canonical record, not these FHIR resources, so it is not copied here: the
        signed bundle export (`--format bundle`) carries it; the key fingerprint names the key."""
        assert signature.signed_at is not None
        who = {
            "display": f"{signature.printed_name} ({signature.role})",
            "identifier": {"system": KEY_FINGERPRINT_SYSTEM, "value": signature.key_fingerprint},
        }
        when = iso_utc(signature.signed_at)
        resource = {
            "target": [{"reference": self.encounter_ref}],
            "recorded": when,
            "reason": [{"text": signature.meaning}],
            "agent": [
                {
                    "type": {"coding": [{"system": PROVENANCE_PARTICIPANT, "code": "author"}]},
                    "who": who,
                }
            ],
            "signature": [
                {
                    "type": [{"system": ASTM_SIGNATURE_TYPE, "code": "1.2.840.10065.1.12.1.1",
                              "display": "Author's Signature"}],
                    "when": when,
                    "who": who,
                }
            ],
        }
        self._add("Provenance", "signature", resource)

    def _add(
        self, resource_type: str, key: str, resource: dict[str, Any], at: int | None = None
    ) -> str:
        rid = str(uuid.uuid5(self.namespace, f"{resource_type}:{key}"))
        full_url = f"urn:uuid:{rid}"
        entry = {
            "fullUrl": full_url,
            "resource": {"resourceType": resource_type, "id": rid, **resource},
        }
        if at is None:
            self.entries.append(entry)
        else:
            self.entries.insert(at, entry)
        return full_url


def _vital_signs_category() -> dict[str, Any]:
    return {
        "coding": [
            {"system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}
        ]
    }


def _code(kind: VitalKind) -> dict[str, Any]:
    spec = spec_of(kind)
    coding = []
    if spec.loinc:
        coding.append({"system": LOINC, "code": spec.loinc, "display": LOINC_DISPLAY[spec.loinc]})
    coding.append({"system": MDC, "code": str(spec.mdc_code), "display": spec.mdc_name})
    return {"coding": coding, "text": spec.label}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": UCUM_UNITS[unit]}


def _assessment_components(obs: Observation) -> list[dict[str, Any]]:
    a = obs.assessment
    components: list[dict[str, Any]] = []
    if a.moaas is not None:
        components.append({"code": {"text": "MOAA/S"}, "valueInteger": a.moaas})
    if a.cadss_total is not None:
        label = "CADSS-6 total" if a.cadss_form == "cadss6" else "CADSS total"
        components.append({"code": {"text": label}, "valueInteger": a.cadss_total})
    for name, value in (("Nausea/vomiting", a.nausea), ("Anxiety", a.anxiety),
                        ("Respiratory status", a.respiratory),
                        ("Therapist present", a.therapist_present or None)):
        if value is not None:
            components.append({"code": {"text": name}, "valueString": value})
    return components
