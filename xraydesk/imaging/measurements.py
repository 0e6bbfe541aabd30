"""Measurements on an image (ruler, angle, cardiothoracic ratio) and arrows with text, without Qt. Points
are in pixel coordinates of the stored image (pixel centres at +0.5), so measurements survive zoom, pan,
rotation and flips; the canvas and the PDF draw them from `.kind`, `.points` and `.describe(image)`."""

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from xraydesk.imaging.header import age_in_years, header_text
from xraydesk.imaging.image import XRayImage

Point = tuple[float, float]

DETECTOR_CAVEAT = "at the detector (Imager Pixel Spacing: not corrected for magnification)"
NO_SPACING = "no pixel spacing in the file"
AP_CAVEAT = "AP film: the heart is magnified"
ESTIMATED = "estimated from the AI lung mask: check the points"
# A thorax narrower or wider than any chest (the narrowest from ADULT_YEARS, or with no age in the header:
# children's are smaller) says the file's pixel spacing does not fit the image: RSNA files keep the spacing
# of the original film, 2-3 times the size of their 1024-pixel image, and measure an adult thorax as ~11 cm.
THORAX_CM = (15.0, 50.0)
ADULT_YEARS = 16
IMPLAUSIBLE_THORAX = "impossible for a chest ({expected}): the pixel spacing is probably wrong"


@dataclass(frozen=True)
class Spacing:
    """Millimetres per pixel between rows and between columns; `at_detector`: measured in the
    detector's plane, so larger than the patient by the film's magnification."""

    row_mm: float
    column_mm: float
    at_detector: bool = False

    def physical(self, point: Point) -> Point:
        return point[0] * self.column_mm, point[1] * self.row_mm


def spacing_of(image: XRayImage) -> Spacing | None:
    """The one rule for distances: Pixel Spacing (in the patient), else Imager Pixel Spacing (at the
    detector), else none (pixels). A Pixel Spacing equal to the Imager Pixel Spacing with no calibration
    type is a copy of it, not a calibration: still at the detector (as cornerstone3D reads it)."""
    imager, pixel = image.imager_pixel_spacing, image.pixel_spacing
    if pixel is not None:
        copied = imager is not None and tuple(pixel) == tuple(imager)
        at_detector = copied and not header_text(image, "PixelSpacingCalibrationType")
        return Spacing(*pixel, at_detector=at_detector)
    if imager is not None:
        return Spacing(*imager, at_detector=True)
    return None


def _physical(points: tuple[Point, ...], spacing: Spacing | None) -> list[Point]:
    return list(points) if spacing is None else [spacing.physical(point) for point in points]


def _distance(a: Point, b: Point) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def _length_words(millimetres_or_pixels: float, spacing: Spacing | None, centimetres: bool = False) -> str:
    if spacing is None:
        return f"{millimetres_or_pixels:.0f} px"
    return f"{millimetres_or_pixels / 10:.1f} cm" if centimetres else f"{millimetres_or_pixels:.1f} mm"


def _spacing_note(spacing: Spacing | None) -> str:
    """What a length rests on, when it is not the patient's plane."""
    if spacing is None:
        return NO_SPACING
    return DETECTOR_CAVEAT if spacing.at_detector else ""


def implausible_thorax(thorax_mm: float, image: XRayImage) -> str:
    """Why a thorax width in the patient's plane (or at the detector) cannot be right; "" when it can."""
    low, high = THORAX_CM
    age = age_in_years(header_text(image, "PatientAge"))
    if age is not None and age < ADULT_YEARS:
        low = 0.0
    if low <= thorax_mm / 10 <= high:
        return ""
    return IMPLAUSIBLE_THORAX.format(expected=f"{low:.0f}–{high:.0f} cm" if low else f"at most {high:.0f} cm")


def _short_note(spacing: Spacing | None) -> str:
    return " (detector)" if spacing is not None and spacing.at_detector else ""


@dataclass(frozen=True)
class Ruler:
    points: tuple[Point, Point]
    kind: ClassVar[str] = "ruler"

    def length(self, spacing: Spacing | None) -> float:
        """In mm with a spacing, else in pixels."""
        return _distance(*_physical(self.points, spacing))

    def describe(self, image: XRayImage) -> str:
        spacing = spacing_of(image)
        note = _spacing_note(spacing)
        words = f"Ruler {_length_words(self.length(spacing), spacing)}"
        if spacing is None:
            return f"{words} ({note})"
        return f"{words} {note}".rstrip()

    def caption(self, image: XRayImage) -> str:
        """The short label written beside it on the image."""
        spacing = spacing_of(image)
        return _length_words(self.length(spacing), spacing) + _short_note(spacing)

    def moved(self, index: int, point: Point) -> "Ruler":
        return replace(self, points=_replaced(self.points, index, point))


@dataclass(frozen=True)
class Angle:
    """The angle at `points[1]` between the lines to `points[0]` and `points[2]`."""

    points: tuple[Point, Point, Point]
    kind: ClassVar[str] = "angle"

    def degrees(self, spacing: Spacing | None) -> float:
        a, vertex, b = _physical(self.points, spacing)  # unequal row and column spacing changes angles
        first = (a[0] - vertex[0], a[1] - vertex[1])
        second = (b[0] - vertex[0], b[1] - vertex[1])
        cross = first[0] * second[1] - first[1] * second[0]
        dot = first[0] * second[0] + first[1] * second[1]
        return abs(math.degrees(math.atan2(cross, dot)))

    def describe(self, image: XRayImage) -> str:
        return f"Angle {self.caption(image)}"

    def caption(self, image: XRayImage) -> str:
        return f"{self.degrees(spacing_of(image)):.1f}°"

    def moved(self, index: int, point: Point) -> "Angle":
        return replace(self, points=_replaced(self.points, index, point))


@dataclass(frozen=True)
class CardiothoracicRatio:
    """Heart width over thorax width, each between two points (heart left, heart right, thorax left,
    thorax right). The heart width is taken along the thorax line, so the two widths stay comparable
    however the points were placed. `estimated`: pre-filled from the lung mask, not yet checked by
    the reader (moving a point clears it)."""

    points: tuple[Point, Point, Point, Point]
    estimated: bool = False
    kind: ClassVar[str] = "ctr"

    def widths(self, spacing: Spacing | None) -> tuple[float, float]:
        """(heart, thorax), in mm with a spacing, else in pixels."""
        heart_left, heart_right, thorax_left, thorax_right = _physical(self.points, spacing)
        thorax = _distance(thorax_left, thorax_right)
        if thorax == 0:
            return _distance(heart_left, heart_right), 0.0
        along = ((thorax_right[0] - thorax_left[0]) / thorax, (thorax_right[1] - thorax_left[1]) / thorax)
        heart = abs((heart_right[0] - heart_left[0]) * along[0] + (heart_right[1] - heart_left[1]) * along[1])
        return heart, thorax

    def ratio(self, spacing: Spacing | None) -> float | None:
        heart, thorax = self.widths(spacing)
        return heart / thorax if thorax else None

    def describe(self, image: XRayImage) -> str:
        spacing = spacing_of(image)
        heart, thorax = self.widths(spacing)
        notes = [_spacing_note(spacing)]
        if header_text(image, "ViewPosition").upper() == "AP":
            notes.append(AP_CAVEAT)
        if self.estimated:
            notes.append(ESTIMATED)
        implausible = implausible_thorax(thorax, image) if spacing is not None else ""
        widths = (f"heart {_length_words(heart, spacing, centimetres=True)} / "
                  f"thorax {_length_words(thorax, spacing, centimetres=True)}"
                  + (f" — {implausible}" if implausible else ""))
        return f"{self.caption(image)} ({'; '.join([widths, *filter(None, notes)])})"

    def caption(self, image: XRayImage) -> str:
        ratio = self.ratio(spacing_of(image))
        return "CTR: no thorax width" if ratio is None else f"CTR {ratio:.2f}"

    def moved(self, index: int, point: Point) -> "CardiothoracicRatio":
        return replace(self, points=_replaced(self.points, index, point), estimated=False)


@dataclass(frozen=True)
class Arrow:
    """An arrow pointing at `points[0]` from `points[1]`, where its free text is written: an
    annotation, not a measurement, kept and saved with them."""

    points: tuple[Point, Point]
    text: str = ""
    kind: ClassVar[str] = "arrow"

    def describe(self, image: XRayImage) -> str:
        return f"Arrow: {self.text}" if self.text else "Arrow"

    def caption(self, image: XRayImage) -> str:
        return self.text

    def moved(self, index: int, point: Point) -> "Arrow":
        return replace(self, points=_replaced(self.points, index, point))


Measurement = Ruler | Angle | CardiothoracicRatio | Arrow
POINT_COUNTS = {"ruler": 2, "angle": 3, "ctr": 4, "arrow": 2}
KINDS = {"ruler": Ruler, "angle": Angle, "ctr": CardiothoracicRatio, "arrow": Arrow}


def make_measurement(kind: str, points: list[Point]) -> Measurement:
    return KINDS[kind](tuple(points))


def _replaced(points: tuple, index: int, point: Point) -> tuple:
    return points[:index] + ((float(point[0]), float(point[1])),) + points[index + 1:]


class MeasurementList:
    """The measurements of one image, in the order they were made."""

    def __init__(self):
        self._items: list[Measurement] = []

    def __iter__(self):
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Measurement:
        return self._items[index]

    def add(self, measurement: Measurement) -> int:
        self._items.append(measurement)
        return len(self._items) - 1

    def put_back(self, saved) -> None:
        """Measurements saved earlier, before any made since the image opened (xraydesk.jobs.saved_reading)."""
        self._items[:0] = list(saved)

    def replace(self, index: int, measurement: Measurement) -> None:
        self._items[index] = measurement

    def remove(self, index: int) -> None:
        del self._items[index]

    def describe(self, image: XRayImage) -> list[str]:
        return [measurement.describe(image) for measurement in self._items]


class MeasurementStore:
    """Measurements per image file, kept while the app runs (the file itself is never changed)."""

    def __init__(self):
        self._lists: dict[Path, MeasurementList] = {}

    def for_image(self, path: Path) -> MeasurementList:
        return self._lists.setdefault(Path(path), MeasurementList())

    def clear(self) -> None:
        self._lists.clear()
