"""The SR and secondary capture UIDs are derived from the source's UIDs and the model version: the same
image and model always give the same objects (an AI node sending them again makes no duplicate), another
image or another model version new ones."""

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pydicom
import pytest
from fakes import synthetic_analysis

from xraydesk.dicom_results import result_datasets
from xraydesk.dicom_results.source import header_of

DISPLAY = np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (256, 1))


@pytest.fixture(scope="module")
def rsna_header(dicom_dir):
    return header_of(pydicom.dcmread(min((dicom_dir / "rsna").glob("*.dcm")), stop_before_pixels=True))


def uids(analysis, header) -> list[tuple[str, str]]:
    """(Series, SOP Instance UID) of the SR and of the secondary capture."""
    return [(dataset.SeriesInstanceUID, dataset.SOPInstanceUID) for dataset in
            result_datasets(analysis, header, DISPLAY)]


def test_the_same_image_and_model_give_the_same_uids_each_time(rsna_header):
    first = uids(synthetic_analysis(Path("a.dcm")), rsna_header)
    assert uids(synthetic_analysis(Path("elsewhere/b.dcm"), p_pneumonia=0.7), rsna_header) == first
    assert all(uid.startswith("2.25.") and len(uid) <= 64 for pair in first for uid in pair)
    every = {uid for pair in first for uid in pair}
    assert len(every) == 4 and not every & {rsna_header.SOPInstanceUID, rsna_header.SeriesInstanceUID}


def test_another_image_or_model_version_gives_new_uids(rsna_header):
    analysis = synthetic_analysis(Path("a.dcm"))
    first = uids(analysis, rsna_header)
    other_image = copy.deepcopy(rsna_header)
    other_image.SOPInstanceUID = pydicom.uid.generate_uid()
    (series, report), (capture_series, capture) = uids(analysis, other_image)
    assert (series, capture_series) == (first[0][0], first[1][0])  # one result series per source series
    assert {report, capture}.isdisjoint(uid for _, uid in first)
    newer = dataclasses.replace(analysis, model_version="Fake CXR 0.1")
    assert {uid for pair in uids(newer, rsna_header) for uid in pair}.isdisjoint(uid for pair in first for uid in pair)
