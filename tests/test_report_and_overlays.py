"""Qt-free parts of the second opinion: the reading in words, overlay geometry in image
coordinates, the PDF's words (the dock's: call, COVID-19 category with its caveat, flags, severity
or why it is withheld), and the PDF writer's refusals and failures (nothing partial is left behind)."""

import errno
import os
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fakes import prediction, synthetic_analysis
from matplotlib.backends.backend_pdf import PdfPages

from xraydesk import __version__
from xraydesk.ai import overlays
from xraydesk.ai.analysis import StudyIdentity
from xraydesk.ai.gate import InputCheck
from xraydesk.ai.lung_check import LungMaskCheck
from xraydesk.ai.words import COVID_CAVEAT, POSITIVE_NO_ZONES, SIX_ZONE_EVIDENCE, reading
from xraydesk.imaging import ViewState, Window, XRayImage
from xraydesk.report import MeasurementMark, ReportError, ReportPage, write_summary
from xraydesk.report.pdf import A4_INCHES, MEASUREMENT, READING_FONTSIZE, READING_LINES, TEXT_WIDTH
from xraydesk.report.text import wrap

DISPLAY = np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (200, 1))


def test_the_reading_gives_the_answer_with_its_numbers_and_the_cause_only_where_validated_or_the_refusal():
    analysis = synthetic_analysis(Path("a.dcm"))
    assert reading(analysis) == ("Pneumonia-like opacity likely — p(pneumonia-like opacity) = 0.90, operating point "
                                "0.50. Cause cannot be told from this film: the bacterial/viral split was validated "
                                "only in children aged 1-5.")
    child = StudyIdentity(Path("a.dcm"), patient_age=4)
    bacterial = synthetic_analysis(Path("a.dcm"), identity=child, answer=prediction(causes=(0.5, 0.2, 0.3)))
    assert reading(bacterial).endswith("Pattern more like bacterial than viral pneumonia (validated in children "
                                      "aged 1-5).")
    unlikely = synthetic_analysis(Path("b.dcm"), p_pneumonia=0.2)
    assert reading(unlikely).startswith("No pneumonia-like opacity called; not cleared as normal — p(abnormal) = 0.20")
    refused = synthetic_analysis(Path("c.dcm"), check=InputCheck(False, "modality CT is not a chest radiograph"))
    assert reading(refused) == "Not analysed: modality CT is not a chest radiograph."


@pytest.mark.parametrize("p_pneumonia, p_abnormal, age", [
    (0.9, None, None), (0.9, None, 4), (0.5, None, None), (0.2, 0.9, None), (0.2, 0.3, None), (0.05, 0.08, None)])
def test_every_answer_fits_the_room_the_page_gives_the_reading(p_pneumonia, p_abnormal, age):
    """Bold, the widest the page sets it; the probability chart sits below that room, not below the text."""
    analysis = synthetic_analysis(Path("a.dcm"), identity=StudyIdentity(Path("a.dcm"), patient_age=age),
                                  answer=prediction(p_pneumonia, p_abnormal=p_abnormal))
    lines = wrap(reading(analysis), TEXT_WIDTH * A4_INCHES[0], READING_FONTSIZE, "bold")
    assert len(lines) <= READING_LINES, reading(analysis)


def test_overlay_outlines_are_in_image_pixels():
    analysis = synthetic_analysis(Path("a.dcm"))
    shape = (448, 672)  # twice the grid's height, three times its width
    outline = np.concatenate(overlays.lung_outline(analysis, shape))
    # lungs_224: rows 40-189, columns 30-99 and 124-193 of the 224 grid
    assert outline[:, 0].min() == pytest.approx(29.5 * 3 + 1.5, abs=1.6)
    assert outline[:, 1].max() == pytest.approx(189.5 * 2 + 1, abs=1.1)
    anchors = overlays.zone_label_anchors(analysis, shape)
    (right_upper, right_side), (left_upper, left_side) = anchors["RU"], anchors["LU"]
    assert right_upper[0] < 336 < left_upper[0] and (right_side, left_side) == (-1, 1)  # right lung on the left
    assert anchors["RU"][0][1] < anchors["RM"][0][1] < anchors["RL"][0][1]


def test_heat_outside_the_lungs_is_shown_not_hidden():
    analysis = synthetic_analysis(Path("a.dcm"))
    analysis.heatmaps["pneumonia"][0, 0] = 1.0  # heat on the film's corner
    grid = overlays.heatmap_grid(analysis, "pneumonia")
    assert grid[~analysis.lung_mask].max() > 0.9
    rgba = overlays.heatmap_rgba(grid, opacity=0.5)
    assert rgba.shape == (224, 224, 4) and rgba[..., 3].max() == 128


def pages(count: int = 2) -> list[ReportPage]:
    """Pages of a 35-year-old's films: the Toussie note's population (adults 21-50)."""
    return [ReportPage(DISPLAY, synthetic_analysis(Path(f"patient-file-{i}.dcm"), identity=StudyIdentity(
        Path(f"patient-file-{i}.dcm"), patient_age=35))) for i in range(count)]


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


def page_words(path: Path) -> list[str]:
    """Each page's text with line breaks and runs of spaces as single spaces."""
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return [" ".join(page.split()) for page in text.split("\f")[:-1]]


def test_every_page_with_the_covid_19_number_carries_the_caveat_and_its_category(tmp_path):
    refused = synthetic_analysis(Path("hip.dcm"), check=InputCheck(False, "body part examined is HIP, not the chest"))
    target = write_summary(tmp_path / "s.pdf", [*pages(1), ReportPage(DISPLAY, refused)])
    analysed, refused_page = page_words(target)
    assert "0.09" in analysed and COVID_CAVEAT in analysed  # p(COVID-19) on its bar, and the caveat
    assert ("COVID-19, RSNA consensus category (Simpson et al. 2020): Atypical appearance for COVID-19 pneumonia."
            in analysed)
    assert "0.09" not in refused_page and COVID_CAVEAT not in refused_page


def test_a_borderline_page_says_indeterminate_and_withholds_severity_on_an_implausible_mask(tmp_path):
    borderline = synthetic_analysis(Path("b.dcm"), p_pneumonia=0.5,
                                    lung_check=LungMaskCheck(False, "loops below the diaphragm"))
    target = write_summary(tmp_path / "s.pdf", [ReportPage(DISPLAY, borderline)])
    [words] = page_words(target)
    assert ("Indeterminate for pneumonia-like opacity — p(pneumonia-like opacity) = 0.50, inside the borderline "
            "band 0.45-0.55.") in words
    assert "likely" not in words and "No abnormality" not in words
    assert ("p(pneumonia-like opacity) 0.50 lies in the borderline band 0.45-0.55 around the operating point "
            "0.50") in words
    assert "Lung mask implausible (loops below the diaphragm)" in words
    assert "Six-zone score: withheld (lung mask implausible)" in words and "zones withheld" in words
    for withheld in ("Six-zone score: 3", "Geographic extent", "Degree of opacity", "RU 0.90", "Toussie"):
        assert withheld not in words


def test_a_clear_page_shows_severity_per_lung_the_toussie_note_and_flags_in_words(tmp_path):
    no_zones = synthetic_analysis(Path("n.dcm"), answer=prediction(0.9, zones=(0.1,) * 6),
                                  check=InputCheck(True, unfamiliar="unfamiliar image: lower confidence — why"))
    target = write_summary(tmp_path / "s.pdf", [*pages(1), ReportPage(DISPLAY, no_zones)])
    clear, explained = page_words(target)
    assert ("Pneumonia-like opacity likely — p(pneumonia-like opacity) = 0.90, operating point 0.50. Cause cannot "
            "be told from this film") in clear
    assert "Six-zone score: 3 / 6 (a zone counts at p >= 0.50)" in clear and SIX_ZONE_EVIDENCE in clear
    assert "Geographic extent: 3.2 / 8 (right 1.8, left 1.4; 0-4 each)" in clear
    assert "Degree of opacity: 2.1 / 8 (right 1.2, left 0.9; 0-4 each)" in clear
    assert "Six-zone score: 0 / 6" in explained and "Toussie" not in explained
    assert POSITIVE_NO_ZONES in explained and "Unfamiliar image: lower confidence — why." in explained
    assert "Published evidence" not in explained  # no age: the note's population cannot be said to fit


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


class Ruler:
    """The interface of the viewer's measurements (xraydesk.imaging.measurements): kind, points in the
    stored image's pixels, and words that need the image."""
    kind = "ruler"
    points = ((10.0, 20.0), (1900.0, 20.0))

    def describe(self, image: XRayImage) -> str:
        return f"Ruler on a {image.width} px wide image"


def test_measurements_are_drawn_on_the_printed_image_and_listed(tmp_path):
    wide = XRayImage(path=Path("w.dcm"), pixels=np.tile(np.arange(2048, dtype=np.float32), (100, 1)),
                     source_format="DICOM", bits_stored=12)
    page = ReportPage.of(wide, synthetic_analysis(Path("w.dcm")), measurements=[Ruler()])
    assert page.display.shape == (50, 1024)
    assert page.measurements == (MeasurementMark("ruler", ((5.0, 10.0), (950.0, 10.0)),
                                                 "Ruler on a 2048 px wide image"),)  # described on the stored image
    figure = page.figure(1, 1, True, "now")
    drawn = [line for axes in figure.axes for line in axes.lines if line.get_color() == MEASUREMENT]
    assert [list(line.get_xdata()) for line in drawn] == [[5.0, 950.0]]
    [words] = page_words(write_summary(tmp_path / "m.pdf", [page]))
    assert "Measurements (yellow on the image): Ruler on a 2048 px wide image." in words


def test_a_cardiothoracic_ratio_is_drawn_as_two_widths():
    ratio = MeasurementMark("ctr", ((0, 5), (10, 5), (2, 8), (7, 8)), "CTR 0.50")
    assert ratio.segments() == [((0, 5), (10, 5)), ((2, 8), (7, 8))]


def test_the_pdf_is_written_with_the_users_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        target = write_summary(tmp_path / "s.pdf", pages(1))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_every_page_carries_the_draft_report_or_the_readers_edit(tmp_path):
    [page] = pages(1)
    edited = ReportPage(DISPLAY, page.analysis, draft="FINDINGS: edited by the reader.\n\nIMPRESSION: reader's words.")
    target = write_summary(tmp_path / "s.pdf", [page, edited])
    drafted, kept = page_words(target)
    assert "Draft report (AI, for the reader to edit)" in drafted
    assert "FINDINGS: Pneumonia-like opacity, in the right upper, right middle and left lower zones." in drafted
    assert "IMPRESSION: Pneumonia-like opacity likely." in drafted or "the rest of the draft is in the app" in drafted
    assert "FINDINGS: edited by the reader. IMPRESSION: reader's words." in kept


def test_each_page_names_the_applications_version_and_the_models(tmp_path):
    [words] = page_words(write_summary(tmp_path / "v.pdf", pages(1)))
    assert f"by XRayDesk {__version__}" in words and "Fake CXR 0.0" in words
