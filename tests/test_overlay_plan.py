"""The one drawing plan of the AI overlay (xraydesk.ai.overlay_plan), without Qt: its draw order and its
labels, and its Pillow backend (the secondary capture) keeping that order where the positive zones' edge
lies on the lung outline."""

from dataclasses import astuple
from pathlib import Path

import numpy as np
from fakes import ZONES, synthetic_analysis

from xraydesk.ai import overlays
from xraydesk.ai.gate import InputCheck
from xraydesk.ai.lung_check import LungMaskCheck
from xraydesk.ai.overlay_plan import THICK, THIN, HeatmapFill, HeatmapSettings, overlay_plan
from xraydesk.dicom_results.overlay_picture import overlay_picture

SHAPE = (448, 448)
ZONE_NAMES = ("RU", "RM", "RL", "LU", "LM", "LL")


def test_heat_then_grey_borders_then_the_lungs_then_positive_zones_then_labels():
    plan = overlay_plan(synthetic_analysis(Path("a.dcm")), SHAPE)
    assert [type(part) for part in plan.heatmap] == [HeatmapFill]
    colours = [line.colour for line in plan.lines]
    first_lung, first_positive = colours.index(overlays.LUNG_OUTLINE_COLOUR), colours.index(overlays.POSITIVE_ZONE_COLOUR)
    assert set(colours[:first_lung]) == {overlays.ZONE_BORDER_COLOUR}
    assert set(colours[first_lung:first_positive]) == {overlays.LUNG_OUTLINE_COLOUR}
    assert set(colours[first_positive:]) == {overlays.POSITIVE_ZONE_COLOUR}  # their lateral edge stays visible
    assert {line.weight for line in plan.lines if line.colour == overlays.ZONE_BORDER_COLOUR} == {THIN}
    assert {line.weight for line in plan.lines if line.colour != overlays.ZONE_BORDER_COLOUR} == {THICK}
    labels = {label.text: label for label in plan.labels}
    assert list(labels) == [f"{zone} {p:.2f}" for zone, p in zip(ZONE_NAMES, ZONES)]
    positive = [p >= 0.5 for p in ZONES]
    assert [label.background == overlays.POSITIVE_ZONE_COLOUR for label in labels.values()] == positive
    assert {(label.colour, label.background, label.background_alpha * 255) for label in labels.values()} == {
        astuple(overlays.label_colours(is_positive)) for is_positive in positive}  # dark on the positive colour
    assert [label.side for label in plan.labels] == [-1, -1, -1, 1, 1, 1]  # beyond each lung's lateral edge


def test_an_implausible_lung_mask_keeps_only_its_outline_and_a_refused_image_draws_nothing():
    withheld = synthetic_analysis(Path("a.dcm"), lung_check=LungMaskCheck(False, "lung mask implausible: test"))
    plan = overlay_plan(withheld, SHAPE)
    assert plan.lines and {line.colour for line in plan.lines} == {overlays.LUNG_OUTLINE_COLOUR} and not plan.labels
    refused = synthetic_analysis(Path("b.dcm"), check=InputCheck(False, "modality CT is not a chest radiograph"))
    assert overlay_plan(refused, SHAPE).primitives() == []


def test_contours_are_lines_in_the_heatmaps_own_colours_and_h_and_z_leave_parts_out():
    analysis = synthetic_analysis(Path("a.dcm"))
    contours = overlay_plan(analysis, SHAPE, HeatmapSettings("pneumonia", 0.1, contours=True), zones=False)
    assert contours.heatmap and not contours.lines and not contours.labels
    assert {line.colour for line in contours.heatmap} <= {overlays.level_colour(level) for level in overlays.CONTOUR_LEVELS}
    assert {line.alpha for line in contours.heatmap} == {0.3}  # visible at any opacity
    assert overlay_plan(analysis, SHAPE, style=None).heatmap == []


def test_the_secondary_capture_draws_the_positive_zones_edge_over_the_lung_outline():
    picture = np.asarray(overlay_picture(synthetic_analysis(Path("a.dcm")), np.zeros(SHAPE, np.uint8)))
    # lungs_224: the right lung's lateral edge between grid columns 29 and 30, i.e. x = 60 at 448 px;
    # RU (positive) spans grid rows 40-89, y = 130 halfway down it
    edge = picture[130, 57:64].astype(int)
    magenta = np.all(np.abs(edge - overlays.POSITIVE_ZONE_COLOUR) < 40, axis=1)
    white = np.all(edge > 200, axis=1)
    assert magenta.any() and not white.any()
