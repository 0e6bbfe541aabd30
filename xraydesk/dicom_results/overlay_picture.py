"""The overlay picture of the secondary capture, drawn with Pillow: the image as displayed, reduced to
SC_MAX_SIDE, with the drawing plan of the default map (the box-trained opacity map), the lung outline and the six zones
(xraydesk.ai.overlay_plan: the app's and the PDF's rules), and in a band below it the words burned in."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from xraydesk import RESEARCH_USE_NOTICE
from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.ai.overlay_plan import HeatmapSettings, OverlayPlan, overlay_plan
from xraydesk.ai.words import flag_statements, reading, six_zone_words

SC_MAX_SIDE = 1024
HEATMAP_OPACITY = 0.5
NOT_FOR_DIAGNOSIS = "Derived image, not for diagnosis"
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
    """The image (uint8 as displayed) reduced to SC_MAX_SIDE, with the drawing plan of the default
    map (analysis.DEFAULT_HEATMAP), the lung outline and the zones over it (xraydesk.ai.overlay_plan), and the words in a band
    below: RGB."""
    picture = Image.fromarray(display).resize(capture_size(display.shape), Image.LANCZOS).convert("RGBA")
    plan = overlay_plan(analysis, (picture.height, picture.width), HeatmapSettings(opacity=HEATMAP_OPACITY))
    for fill in plan.heatmap:
        picture.alpha_composite(Image.fromarray(fill.rgba).resize(picture.size, Image.BILINEAR))
    layer = Image.new("RGBA", picture.size)
    _draw_plan(ImageDraw.Draw(layer), plan, picture.size)
    picture.alpha_composite(layer)
    return _with_banner(picture.convert("RGB"), analysis)


def _draw_plan(draw: ImageDraw.ImageDraw, plan: OverlayPlan, size: tuple[int, int]) -> None:
    """Line weights and the labels' font grow with the picture."""
    unit = max(1, round(max(size) / 512))
    for line in plan.lines:
        draw.line(_xy(line.points), fill=_rgba(line.colour, line.alpha), width=line.weight * unit)
    font = _font(max(10, max(size) // 64))
    for label in plan.labels:
        (x, y), side = label.anchor, label.side
        position, anchor = (x + side * font.size / 2, y), "rm" if side < 0 else "lm"
        box = draw.textbbox(position, label.text, font=font, anchor=anchor)
        draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3),
                       fill=_rgba(label.background, label.background_alpha))
        draw.text(position, label.text, font=font, fill=_rgba(label.colour), anchor=anchor)


def _rgba(rgb: tuple[int, int, int], opacity: float = 1.0) -> tuple[int, int, int, int]:
    return (*rgb, round(opacity * 255))


def _xy(points: np.ndarray) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in points]


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
