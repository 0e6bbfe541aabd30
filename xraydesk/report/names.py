"""Which patient and which study each page of one PDF summary shows, in words a de-identified page can
keep ("Patient 2 of 3, study 1 of 2"): a pseudonym that holds within one export only. Patients are
numbered in the order their first page comes, each patient's studies by date and time. Without a
Patient ID or name (PNG/JPEG, anonymised files) nothing ties two studies to one person, so such a
study is a patient of its own."""

from collections.abc import Iterable
from dataclasses import dataclass

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.imaging.study_keys import StudyKeys


def patient_of(keys: StudyKeys) -> tuple[str, str]:
    known = keys.patient_id or keys.patient_name
    return known, "" if known else keys.study


def _study_order(keys: StudyKeys) -> tuple:
    return (keys.study_date or "99999999", keys.study_time, keys.study)  # undated studies last


@dataclass(frozen=True)
class ExportNames:
    patients: dict[tuple[str, str], int]  # patient -> its number, from 1
    studies: dict[tuple[str, str], tuple[str, ...]]  # patient -> its studies (StudyKeys.study) in order

    @classmethod
    def of(cls, analyses: Iterable[ImageAnalysis]) -> "ExportNames":
        keys_of_patient: dict[tuple[str, str], dict[str, StudyKeys]] = {}
        for analysis in analyses:
            keys = analysis.identity.keys
            keys_of_patient.setdefault(patient_of(keys), {}).setdefault(keys.study, keys)
        return cls({patient: number for number, patient in enumerate(keys_of_patient, start=1)},
                   {patient: tuple(sorted(studies, key=lambda study: _study_order(studies[study])))
                    for patient, studies in keys_of_patient.items()})

    def patient_words(self, keys: StudyKeys) -> str:
        return f"Patient {self.patients[patient_of(keys)]} of {len(self.patients)}"

    def study_words(self, keys: StudyKeys) -> str:
        studies = self.studies[patient_of(keys)]
        return f"{self.patient_words(keys)}, study {studies.index(keys.study) + 1} of {len(studies)}"
