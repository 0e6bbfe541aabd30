"""The shared data's location and synthetic DICOM files, for the conftest fixtures and the tests that
build files of their own (a module of its own: tests/pacs has a conftest too, so `conftest` is ambiguous)."""

import os
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DigitalXRayImageStorageForPresentation

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("XRAYDESK_DATA") or REPO_ROOT / ".." / "shared" / "data").resolve()


def write_dicom(path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2", bits_stored: int | None = None,
                **attributes) -> Path:
    """A minimal DX image file with the given pixels and extra attributes (keyword=value)."""
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.SOPClassUID = attributes.pop("SOPClassUID", DigitalXRayImageStorageForPresentation)
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.Modality = "DX"
    dataset.PatientName = "Test^Patient"
    dataset.PatientID = "P1"
    dataset.StudyInstanceUID = attributes.pop("StudyInstanceUID", "1.2.3.4")
    dataset.SeriesInstanceUID = attributes.pop("SeriesInstanceUID", "1.2.3.4.5")
    dataset.set_pixel_data(pixels, photometric, bits_stored or pixels.dtype.itemsize * 8)
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    dataset.save_as(path, enforce_file_format=True)
    return path
