"""The drawing plan of the AI overlay, without Qt: what the app (QPainter), the PDF (matplotlib) and the
secondary capture (Pillow) draw over an image, as primitives in image pixel coordinates and in draw
order. The rules live here once, so the three backends stay thin and cannot drift apart:

- the heatmap first: filled over the whole image (heat on the border, a marker or the shoulder must
  show), or as iso-lines in the heatmap's own colours;
- then the borders of the zones at or below the operating point (thin, grey), the lung outline (thick,
  white: drawn even when the lung mask failed its check, so the reader sees why zones are withheld),
  and the borders of positive zones last (thick, their own colour): their lateral edge lies on the
  lung outline and must stay visible;
- then each zone's label ("RU 0.85") beyond the zone's lateral edge, outside the lung, so the heat
  inside stays visible; positive zones' labels in the positive colour.
Zones and labels are left out when the lung mask is implausible (severity withheld).

Line weights are THIN or THICK; each backend turns a weight into its own unit (screen pixels, points,
picture pixels), keeping THICK twice THIN. Colours are xraydesk.ai.overlays', one per meaning."""

from dataclasses import dataclass, field

import numpy as np

from xraydesk.ai import overlays
from xraydesk.ai.analysis import DEFAULT_HEATMAP, ImageAnalysis
from xraydesk.ai.outputs import ZONES
from xraydesk.imaging.measurements import Point

RGB = tuple[int, int, int]
THIN, THICK = 1, 2
ZONE_BORDER_ALPHA = 170 / 255  # grey borders recede behind the lung outline
MIN_CONTOUR_ALPHA = 0.3  # iso-lines stay visible at any heatmap opacity


@dataclass(frozen=True)
class HeatmapSettings:
    """Which map is drawn (the box-trained opacity map, or an output's Grad-CAM) and how."""

    target: str = DEFAULT_HEATMAP
    opacity: float = 0.5
    contours: bool = False


@dataclass(frozen=True, eq=False)
class HeatmapFill:
    """An RGBA picture on the model's grid, stretched over the whole image (smoothly)."""

    rgba: np.ndarray


@dataclass(frozen=True, eq=False)
class Polyline:
    points: np.ndarray  # (N, 2) image x, y
    colour: RGB
    weight: int
    alpha: float = 1.0


@dataclass(frozen=True)
class Label:
    """Text in a box beyond `anchor` in the image x direction `side` (-1 or +1), wherever that points
    on screen after rotation or a flip."""

    text: str
    anchor: Point
    side: int
    colour: RGB
    background: RGB
    background_alpha: float  # 0-1

    @classmethod
    def of(cls, text: str, anchor: Point, side: int, positive: bool) -> "Label":
        colours = overlays.label_colours(positive)
        return cls(text, anchor, side, colours.text, colours.background, colours.background_alpha / 255)


@dataclass(frozen=True)
class OverlayPlan:
    heatmap: list[HeatmapFill | Polyline] = field(default_factory=list)
    lines: list[Polyline] = field(default_factory=list)  # zones and lungs, in draw order
    labels: list[Label] = field(default_factory=list)

    def primitives(self) -> list:
        return [*self.heatmap, *self.lines, *self.labels]


def zone_label_text(zone: str, probability: float) -> str:
    return f"{zone} {probability:.2f}"


def heatmap_plan(analysis: ImageAnalysis, image_shape: tuple[int, int], style: HeatmapSettings) -> list:
    """Nothing for a refused image or a map the analysis lacks."""
    if style.target not in analysis.heatmaps:
        return []
    values = overlays.heatmap_grid(analysis, style.target)
    if not style.contours:
        return [HeatmapFill(overlays.heatmap_rgba(values, style.opacity))]
    alpha = max(style.opacity, MIN_CONTOUR_ALPHA)
    return [Polyline(line, overlays.level_colour(level), THICK, alpha)
            for level in overlays.CONTOUR_LEVELS for line in overlays.contour_lines(values, level, image_shape)]


def zone_plan(analysis: ImageAnalysis, image_shape: tuple[int, int]) -> tuple[list[Polyline], list[Label]]:
    """The lung outline, the zones and their labels (lines, labels); nothing for a refused image, nor for
    a result without its lung mask yet (ImageAnalysis.lacks_maps)."""
    prediction = analysis.prediction
    if prediction is None or analysis.lacks_maps:
        return [], []
    lungs = [Polyline(line, overlays.LUNG_OUTLINE_COLOUR, THICK) for line in overlays.lung_outline(analysis, image_shape)]
    if analysis.severity_withheld:
        return lungs, []
    outlines = overlays.zone_outlines(analysis, image_shape)
    positive = dict(zip(ZONES, prediction.zone_positive))
    borders = [Polyline(line, overlays.ZONE_BORDER_COLOUR, THIN, ZONE_BORDER_ALPHA)
               for zone in ZONES if not positive[zone] for line in outlines[zone]]
    positives = [Polyline(line, overlays.POSITIVE_ZONE_COLOUR, THICK)
                 for zone in ZONES if positive[zone] for line in outlines[zone]]
    anchors = overlays.zone_label_anchors(analysis, image_shape)
    labels = [Label.of(zone_label_text(zone, probability), *anchors[zone], positive[zone])
              for zone, probability in zip(ZONES, prediction.zone_probabilities) if zone in anchors]
    return borders + lungs + positives, labels


def overlay_plan(analysis: ImageAnalysis, image_shape: tuple[int, int], style: HeatmapSettings | None = HeatmapSettings(),
                 zones: bool = True) -> OverlayPlan:
    """The whole overlay of `analysis` over an image of `image_shape` (height, width); `style` None or
    `zones` False leave the heatmap or the lungs and zones out (the app's H and Z)."""
    lines, labels = zone_plan(analysis, image_shape) if zones else ([], [])
    return OverlayPlan(heatmap_plan(analysis, image_shape, style) if style else [], lines, labels)
