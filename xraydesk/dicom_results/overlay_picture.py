"""The overlay picture of the secondary capture, drawn with Pillow: the image as displayed, reduced to
SC_MAX_SIDE, with the pneumonia Grad-CAM, the lung outline and the six zones (withheld zones are not
drawn), and in a band below it the words burned in."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from xraydesk import RESEARCH_USE_NOTICE
from xraydesk.ai import overlays
from xraydesk.ai.analysis import DEFAULT_HEATMAP, ImageAnalysis
from xraydesk.ai.outputs import ZONES
from xraydesk.ai.words import flag_statements, reading, six_zone_words

SC_MAX_SIDE = 1024
HEATMAP_OPACITY = 0.5
NOT_FOR_DIAGNOSIS = "Derived image, not for diagnosis"
LABEL_BACKGROUND = (*overlays.LABEL_BACKGROUND_COLOUR, 150)  # the image shows through
BANNER_COLOUR = (176, 0, 32)
BANNER_TEXT_COLOUR = (255, 255, 255)


def capture_size(shape: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of the image in the capture: reduced to SC_MAX_SIDE on its long side, never enlarged."""
    height, width = shape
    scale = min(1.0, SC_MAX_SIDE / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans, the PDF's font (matplotlib ships it): Pillow's own lacks the dashes the words use."""
    import matplotlib

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)


def overlay_picture(analysis: ImageAnalysis, display: np.ndarray) -> Image.Image:
    """The image (uint8 as displayed) reduced to SC_MAX_SIDE, with the pneumonia heatmap, the lung
    outline and the zones drawn over it, and the words in a band below: RGB."""
    picture = Image.fromarray(display).resize(capture_size(display.shape), Image.LANCZOS).convert("RGBA")
    heat = overlays.heatmap_rgba(overlays.heatmap_grid(analysis, DEFAULT_HEATMAP), HEATMAP_OPACITY)
    picture.alpha_composite(Image.fromarray(heat).resize(picture.size, Image.BILINEAR))
    layer = Image.new("RGBA", picture.size)
    _draw_lungs_and_zones(ImageDraw.Draw(layer), analysis, picture.size)
    picture.alpha_composite(layer)
    return _with_banner(picture.convert("RGB"), analysis)


def _draw_lungs_and_zones(draw: ImageDraw.ImageDraw, analysis: ImageAnalysis, size: tuple[int, int]) -> None:
    """The colours are the app's and the PDF's (xraydesk.ai.overlays); line widths and fonts grow with the picture."""
    width, height = size
    shape = (height, width)
    line = max(1, round(max(size) / 512))
    if not analysis.severity_withheld:
        for zone, positive in zip(ZONES, analysis.prediction.zone_positive):
            for points in overlays.zone_outlines(analysis, shape)[zone]:
                draw.line(_xy(points), fill=overlays.POSITIVE_ZONE_COLOUR if positive else overlays.ZONE_BORDER_COLOUR,
                          width=2 * line if positive else line)
    for points in overlays.lung_outline(analysis, shape):  # drawn even when it failed its check: it shows why
        draw.line(_xy(points), fill=overlays.LUNG_OUTLINE_COLOUR, width=2 * line)
    if not analysis.severity_withheld:
        _draw_zone_labels(draw, analysis, shape, _font(max(10, max(size) // 64)))


def _draw_zone_labels(draw: ImageDraw.ImageDraw, analysis: ImageAnalysis, shape: tuple[int, int], font) -> None:
    """Each zone's probability beside the zone, outside the lung (the heat inside stays visible)."""
    prediction = analysis.prediction
    anchors = overlays.zone_label_anchors(analysis, shape)
    for zone, probability, positive in zip(ZONES, prediction.zone_probabilities, prediction.zone_positive):
        if zone in anchors:
            (x, y), side = anchors[zone]
            _label(draw, (x + side * font.size / 2, y), f"{zone} {probability:.2f}", font, "rm" if side < 0 else "lm",
                   overlays.POSITIVE_ZONE_COLOUR if positive else overlays.LABEL_TEXT_COLOUR)


def _xy(points: np.ndarray) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in points]


def _label(draw: ImageDraw.ImageDraw, position: tuple[float, float], text: str, font, anchor: str, colour) -> None:
    box = draw.textbbox(position, text, font=font, anchor=anchor)
    draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), fill=LABEL_BACKGROUND)
    draw.text(position, text, font=font, fill=colour, anchor=anchor)


def banner_lines(analysis: ImageAnalysis) -> list[str]:
    """The words burned in: the answer, the score, and the explanation of every flag (a contradiction
    between two outputs never leaves the app without its explanation)."""
    return [f"{NOT_FOR_DIAGNOSIS}. AI overlay by {analysis.model_version}: opacity map (trained on radiologists' "
            "boxes), lungs and zones.", reading(analysis), f"{six_zone_words(analysis)}.",
            *flag_statements(analysis), RESEARCH_USE_NOTICE]


def _with_banner(picture: Image.Image, analysis: ImageAnalysis) -> Image.Image:
    """The words burned in below the image, so that no pixel of the image (nor heat at its border) is hidden."""
    font = _font(max(12, picture.width // 60))
    margin, spacing = font.size // 2, round(font.size * 1.3)
    lines = [wrapped for line in banner_lines(analysis) for wrapped in _wrap(line, font, picture.width - 2 * margin)]
    result = Image.new("RGB", (picture.width, picture.height + spacing * len(lines) + 2 * margin), BANNER_COLOUR)
    result.paste(picture)
    draw = ImageDraw.Draw(result)
    for index, line in enumerate(lines):
        draw.text((margin, picture.height + margin + index * spacing), line, font=font, fill=BANNER_TEXT_COLOUR)
    return result


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap to `width` pixels (a word longer than a line stays whole)."""
    lines = [""]
    for word in text.split():
        candidate = f"{lines[-1]} {word}".strip()
        if font.getlength(candidate) <= width or not lines[-1]:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines
