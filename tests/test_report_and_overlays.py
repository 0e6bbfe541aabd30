"""Qt-free parts of the second opinion: the reading in words, overlay geometry in image
coordinates, and the PDF writer's refusals and failures (nothing partial is left behind)."""

import errno
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fakes import prediction, synthetic_analysis
from matplotlib.backends.backend_pdf import PdfPages

from xraydesk.ai import overlays
from xraydesk.ai.gate import InputCheck
from xraydesk.imaging import ViewState, Window, XRayImage
from xraydesk.report import ReportError, ReportPage, write_summary

DISPLAY = np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (200, 1))


def test_the_reading_names_the_most_likely_cause_or_the_refusal():
    analysis = synthetic_analysis(Path("a.dcm"))
    assert analysis.reading == "Pneumonia likely — pattern most consistent with viral pneumonia."
    covid = replace(analysis, prediction=replace(prediction(), p_covid=0.2, p_viral=0.1, p_bacterial=0.1))
    assert covid.reading == "Pneumonia likely — pattern most consistent with COVID-19 pneumonia."
    assert synthetic_analysis(Path("b.dcm"), p_pneumonia=0.2).reading == "No pneumonia detected at the operating point."
    refused = synthetic_analysis(Path("c.dcm"), check=InputCheck(False, "modality CT is not a chest radiograph"))
    assert refused.reading == "Not analysed: modality CT is not a chest radiograph."


def test_overlay_outlines_are_in_image_pixels():
    analysis = synthetic_analysis(Path("a.dcm"))
    shape = (448, 672)  # twice the grid's height, three times its width
    outline = np.concatenate(overlays.lung_outline(analysis, shape))
    # lungs_224: rows 40-189, columns 30-99 and 124-193 of the 224 grid
    assert outline[:, 0].min() == pytest.approx(29.5 * 3 + 1.5, abs=1.6)
    assert outline[:, 1].max() == pytest.approx(189.5 * 2 + 1, abs=1.1)
    positions = overlays.zone_label_positions(analysis, shape)
    assert positions["RU"][0] < 336 < positions["LU"][0]  # patient's right on the viewer's left
    assert positions["RU"][1] < positions["RM"][1] < positions["RL"][1]


def test_heatmap_clipped_to_the_lungs_is_zero_outside_them():
    analysis = synthetic_analysis(Path("a.dcm"))
    clipped = overlays.heatmap_grid(analysis, "pneumonia", clip_to_lungs=True)
    assert clipped[~analysis.lung_mask].max() == 0 and clipped.max() > 0.9
    rgba = overlays.heatmap_rgba(clipped, opacity=0.5)
    assert rgba.shape == (224, 224, 4) and rgba[..., 3].max() == 124


def pages(count: int = 2) -> list[ReportPage]:
    return [ReportPage(DISPLAY, synthetic_analysis(Path(f"patient-file-{i}.dcm"))) for i in range(count)]


def test_a_page_shows_the_image_as_the_reader_viewed_it():
    ramp = XRayImage(path=None, pixels=np.tile(np.arange(1000, dtype=np.float32), (10, 1)), source_format="DICOM",
                     bits_stored=12)
    analysis = synthetic_analysis(Path("a.dcm"))
    default = ReportPage.of(ramp, analysis)
    assert default.display[0, 0] == 0 and default.display[0, -1] > 200
    narrow = ReportPage.of(ramp, analysis, view=ViewState(Window(250, 100, label="Narrow"), invert=True))
    assert narrow.view_caption == "WC 250  WW 100  Narrow  Inverted"
    assert (narrow.display[0, :199] == 255).all() and (narrow.display[0, 301:] == 0).all()


def test_a_summary_has_one_page_per_image_and_a_refused_image_says_why(tmp_path):
    refused = synthetic_analysis(Path("hip.dcm"), check=InputCheck(False, "body part examined is HIP, not the chest"))
    target = write_summary(tmp_path / "s.pdf", [*pages(2), ReportPage(DISPLAY, refused)])
    text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True, check=True).stdout
    assert text.count("Research use only") == 3
    assert "The input check refused this image:" in text and "body part examined is HIP" in text
    assert "patient-file" not in text  # de-identified by default


def test_an_existing_file_is_not_overwritten_unless_asked(tmp_path):
    target = tmp_path / "s.pdf"
    target.write_bytes(b"keep")
    with pytest.raises(ReportError, match="already exists"):
        write_summary(target, pages(1))
    assert target.read_bytes() == b"keep"
    write_summary(target, pages(1), overwrite=True)
    assert target.read_bytes().startswith(b"%PDF")


def test_a_full_disk_is_reported_and_leaves_nothing(tmp_path, monkeypatch):
    def full_disk(self, figure=None, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PdfPages, "savefig", full_disk)
    with pytest.raises(ReportError, match="s.pdf: No space left on device"):
        write_summary(tmp_path / "s.pdf", pages(2))
    assert list(tmp_path.iterdir()) == []


def test_nothing_to_report_is_an_error(tmp_path):
    with pytest.raises(ReportError, match="no analysed image"):
        write_summary(tmp_path / "s.pdf", [])
