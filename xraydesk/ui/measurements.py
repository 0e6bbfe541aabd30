"""Measurements on the canvas: the layer that draws the shown image's measurements and turns left clicks
into new ones (ruler, angle, cardiothoracic ratio, arrow with text) or moves their points, and the small
panel that lists them with Delete. The measurements themselves (xraydesk.imaging.measurements) live in
the stored image's pixel coordinates, so zoom, pan, rotation and flips never change them."""

import math
from dataclasses import dataclass, field, replace

from PyQt5.QtCore import QObject, QPointF, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QFont, QFontMetricsF, QPainter, QPolygonF
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from xraydesk.ai import overlays
from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.imaging import XRayImage
from xraydesk.imaging.measurements import (
    POINT_COUNTS,
    Measurement,
    MeasurementList,
    MeasurementStore,
    Point,
    make_measurement,
)
from xraydesk.ui.canvas import ImageCanvas, OverlayLayer
from xraydesk.ui.overlays import cosmetic_pen, qcolour

NAVIGATE = "navigate"  # the left button pans or windows, as without measurements
MODES = (NAVIGATE, "ruler", "angle", "ctr", "arrow")
MEASUREMENT_COLOUR = qcolour(overlays.MEASUREMENT_COLOUR)
DRAFT_COLOUR = qcolour(overlays.MEASUREMENT_COLOUR, 170)
HANDLE_RADIUS = 3  # screen pixels
GRAB_DISTANCE = 7  # screen pixels within which a press takes hold of a point
DRAG_DISTANCE = 4  # screen pixels a press must move to count as a drag, not a click
CAPTION_POINT_SIZE = 8
CAPTION_OFFSET = 10  # screen pixels between a measurement and its caption
ARROW_HEAD = 12  # screen pixels, each side of an arrow's head
ARROW_HEAD_ANGLE = math.radians(25)
PROMPTS = {
    "ruler": "Ruler: drag from one end to the other, or click both ends. Esc cancels.",
    "angle": "Angle: click a point on the first line, the vertex, then a point on the second line. Esc cancels.",
    "ctr": "Cardiothoracic ratio: click the heart's right and left borders, then the thorax's inner edges at its "
           "widest. Esc cancels.",
    "arrow": "Arrow: click where it points, then where its text goes (or drag). Esc cancels.",
}


@dataclass
class Draft:
    """A measurement being made: the points clicked so far, then `preset` points (the CTR's thorax width
    from the lung mask) that complete it; `floating` follows the cursor."""

    kind: str
    clicked: list[Point] = field(default_factory=list)
    preset: tuple[Point, ...] = ()
    floating: Point | None = None
    pressed_at: tuple[float, float] | None = None  # screen position of the press that placed the last point

    @property
    def missing(self) -> int:
        return POINT_COUNTS[self.kind] - len(self.preset) - len(self.clicked)

    def points(self) -> list[Point]:
        """What to draw: clicked points, the cursor's, and the preset ones."""
        following = [self.floating] if self.clicked and self.floating and self.missing else []
        return self.clicked + following + list(self.preset)


class MeasurementLayer(QObject, OverlayLayer):
    """Draws the measurements of the image on the canvas and makes new ones with the left button in a
    measuring mode; in any mode a press on a measurement's point moves that point. Registers itself on
    the canvas (as an overlay and as its left-button tool). Measurements are kept per image in `store`."""

    changed = pyqtSignal()  # the shown image's measurements changed, or another image is shown
    modeChanged = pyqtSignal(str)  # one of MODES
    message = pyqtSignal(str)  # what to click next, or why the CTR was not pre-filled

    def __init__(self, canvas: ImageCanvas, store: MeasurementStore | None = None):
        QObject.__init__(self, canvas)
        self.canvas = canvas
        self.store = store or MeasurementStore()
        self.mode = NAVIGATE
        self.analysis: ImageAnalysis | None = None
        self.selected: int | None = None
        self._draft: Draft | None = None
        self._moving: tuple[int, int] | None = None  # (measurement, point) held by the mouse
        self._shown_path = None
        self.ask_text = self._ask_arrow_text  # () -> the arrow's text, or None when the reader cancels
        canvas.add_overlay(self)
        canvas.tool = self
        canvas.viewChanged.connect(self._on_view_changed)

    # ------------------------------------------------------------ state

    def measurements(self) -> MeasurementList | None:
        image = self.canvas.image
        return None if image is None else self.store.for_image(image.path)

    def set_analysis(self, analysis: ImageAnalysis | None) -> None:
        """The AI result the CTR is pre-filled from (that of the image on screen, or None)."""
        self.analysis = analysis

    def set_mode(self, mode: str) -> None:
        """A measuring mode starts a new measurement (a CTR pre-filled where the lung mask allows)."""
        if mode not in MODES:
            raise ValueError(f"unknown measuring mode {mode!r}")
        self._draft = None
        self.mode = mode
        if mode != NAVIGATE and self.canvas.image is not None:
            self._draft = Draft(mode)
            self.message.emit(self._prefill_ctr(self._draft) if mode == "ctr" else PROMPTS[mode])
        self.modeChanged.emit(self.mode)
        self.canvas.update()

    def add(self, measurement: Measurement) -> None:
        self.measurements().add(measurement)
        self._changed()

    def remove(self, index: int) -> None:
        self.measurements().remove(index)
        self.selected = None
        self._changed()

    def select(self, index: int | None) -> None:
        self.selected = index
        self.canvas.update()

    def _prefill_ctr(self, draft: Draft) -> str:
        """A complete estimate is added at once (its points stay movable) and ends the mode; a thorax
        width alone waits for the heart's two borders. Returns what to tell the reader."""
        image = self.canvas.image
        analysis = self.analysis if self.analysis is not None and self.analysis.path == image.path else None
        estimate = overlays.estimate_ctr(analysis, (image.height, image.width))
        measurement = estimate.measurement()
        if measurement is not None:
            self.add(measurement)
            self._draft, self.mode = None, NAVIGATE
            return f"{measurement.describe(image)}. Drag any point to correct it."
        if estimate.thorax is not None:
            draft.preset = estimate.thorax
            return (f"Cardiothoracic ratio: thorax width placed from the AI lung mask; click the heart's right and "
                    f"left borders ({estimate.reason}). Esc cancels.")
        return f"{PROMPTS['ctr']} Not pre-filled: {estimate.reason}."

    def _on_view_changed(self, view) -> None:
        path = self.canvas.image.path if self.canvas.image is not None else None
        if path != self._shown_path:
            self._shown_path, self._draft, self._moving, self.selected = path, None, None, None
            if self.mode != NAVIGATE:
                self.set_mode(NAVIGATE)
            self.changed.emit()

    def _changed(self) -> None:
        self.canvas.update()
        self.changed.emit()

    def _finish(self, measurement: Measurement) -> None:
        self.set_mode(NAVIGATE)
        if measurement.kind == "arrow":
            text = self.ask_text()
            if text is None:
                self.message.emit("")
                return
            measurement = replace(measurement, text=text.strip())
        self.add(measurement)
        self.message.emit(measurement.describe(self.canvas.image))

    def _ask_arrow_text(self) -> str | None:
        text, ok = QInputDialog.getText(self.canvas, "Arrow", "Text beside the arrow:", QLineEdit.Normal)
        return text if ok else None

    def refresh(self) -> None:
        """The shown image's measurements changed from outside (saved ones put back)."""
        self._changed()

    # ------------------------------------------------------------ the canvas's tool (image coordinates)

    def press(self, x: float, y: float) -> bool:
        held = self._point_at(x, y)
        if held is not None:
            self._moving = held
            self.select(held[0])
            return True
        draft = self._draft
        if draft is None:
            return False
        point = self._snapped(draft, (x, y))
        draft.clicked.append(point)
        draft.pressed_at = self._screen(point)
        draft.floating = point
        self._complete_if_done(draft)
        self.canvas.update()
        return True

    def move(self, x: float, y: float) -> None:
        if self._moving is not None:
            index, point_index = self._moving
            measurements = self.measurements()
            measurement = measurements[index]
            point = self._snapped_edit(measurement, point_index, (x, y))
            measurements.replace(index, measurement.moved(point_index, point))
            self._changed()
        elif self._draft is not None:
            self._draft.floating = self._snapped(self._draft, (x, y))
            self.canvas.update()

    def release(self, x: float, y: float) -> None:
        if self._moving is not None:
            self._moving = None
            return
        draft = self._draft
        if draft is None or draft.pressed_at is None:
            return
        point = self._snapped(draft, (x, y))
        if math.dist(self._screen(point), draft.pressed_at) >= DRAG_DISTANCE:  # a drag places its end point too
            draft.clicked.append(point)
            draft.pressed_at = None
            self._complete_if_done(draft)
            self.canvas.update()

    def cancel(self) -> bool:
        """Esc: drops the measurement being made and returns to navigating."""
        if self.mode == NAVIGATE:
            return False
        self.set_mode(NAVIGATE)
        self.message.emit("")
        return True

    def _complete_if_done(self, draft: Draft) -> None:
        if draft.missing == 0:
            self._finish(make_measurement(draft.kind, draft.clicked + list(draft.preset)))

    def _screen(self, point: Point) -> tuple[float, float]:
        return self.canvas.view.transform.image_to_screen(*point)

    def _point_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The measurement point within GRAB_DISTANCE of the press, on screen."""
        measurements = self.measurements()
        if measurements is None or not self.visible:
            return None
        press = self._screen((x, y))
        for index, measurement in enumerate(measurements):
            for point_index, point in enumerate(measurement.points):
                if math.dist(self._screen(point), press) <= GRAB_DISTANCE:
                    return index, point_index
        return None

    def _snapped(self, draft: Draft, point: Point) -> Point:
        """A CTR width's second point is kept parallel to the other width where that is placed (the
        thorax from the lung mask), else horizontal on screen."""
        index = len(draft.clicked)
        if draft.kind != "ctr" or index % 2 == 0:
            return point
        other = draft.preset or tuple(draft.clicked[:index - 1])
        return self._on_line(draft.clicked[index - 1], other, point)

    def _snapped_edit(self, measurement: Measurement, index: int, point: Point) -> Point:
        """A moved CTR point keeps its width's direction, so the two widths stay parallel."""
        if measurement.kind != "ctr":
            return point
        partner = measurement.points[index ^ 1]
        return self._on_line(partner, (partner, measurement.points[index]), point)

    def _on_line(self, start: Point, along: tuple[Point, ...], point: Point) -> Point:
        """`point` projected on the line through `start` parallel to the segment `along` (horizontal on
        screen when `along` is not a segment)."""
        if len(along) == 2 and along[0] != along[1]:
            direction = (along[1][0] - along[0][0], along[1][1] - along[0][1])
        else:
            transform = self.canvas.view.transform
            origin, right = transform.screen_to_image(0, 0), transform.screen_to_image(1, 0)
            direction = (right[0] - origin[0], right[1] - origin[1])
        offset = (point[0] - start[0]) * direction[0] + (point[1] - start[1]) * direction[1]
        share = offset / (direction[0] ** 2 + direction[1] ** 2)
        return start[0] + share * direction[0], start[1] + share * direction[1]

    # ------------------------------------------------------------ painting

    def paint(self, painter: QPainter, image: XRayImage) -> None:
        measurements = self.store.for_image(image.path)
        transform = painter.transform()
        for index, measurement in enumerate(measurements):
            width = 2.5 if index == self.selected else 1.5
            self._paint_shape(painter, measurement.kind, list(measurement.points), MEASUREMENT_COLOUR, width)
        if self._draft is not None:
            self._paint_shape(painter, self._draft.kind, self._draft.points(), DRAFT_COLOUR, 1.5)
        painter.save()
        painter.resetTransform()  # handles and captions keep their size on screen
        font = QFont(painter.font())
        font.setPointSize(CAPTION_POINT_SIZE)
        painter.setFont(font)
        for measurement in measurements:
            screen = [transform.map(QPointF(*point)) for point in measurement.points]
            if measurement.kind == "arrow":
                self._paint_arrow_head(painter, screen)
            self._paint_handles(painter, screen)
            self._paint_caption(painter, measurement.caption(image), caption_anchor(measurement.kind, screen))
        if self._draft is not None:
            self._paint_handles(painter, [transform.map(QPointF(*point)) for point in self._draft.points()])
        painter.restore()

    @staticmethod
    def _paint_shape(painter: QPainter, kind: str, points: list[Point], colour, width: float) -> None:
        painter.setPen(cosmetic_pen(colour, width))
        corners = [QPointF(*point) for point in points]
        if kind == "ctr":
            for start in range(0, len(corners) - 1, 2):
                painter.drawLine(corners[start], corners[start + 1])
        elif len(corners) > 1:
            painter.drawPolyline(QPolygonF(corners))

    @staticmethod
    def _paint_arrow_head(painter: QPainter, screen: list[QPointF]) -> None:
        """Two strokes at the tip (screen[0]), back towards the tail, the same size at any zoom."""
        tip, tail = screen
        direction = math.atan2(tail.y() - tip.y(), tail.x() - tip.x())
        painter.setPen(cosmetic_pen(MEASUREMENT_COLOUR, 1.5))
        for side in (-ARROW_HEAD_ANGLE, ARROW_HEAD_ANGLE):
            painter.drawLine(tip, tip + QPointF(math.cos(direction + side), math.sin(direction + side)) * ARROW_HEAD)

    @staticmethod
    def _paint_handles(painter: QPainter, points: list[QPointF]) -> None:
        painter.setPen(cosmetic_pen(MEASUREMENT_COLOUR, 1))
        for point in points:
            painter.drawRect(QRectF(point.x() - HANDLE_RADIUS, point.y() - HANDLE_RADIUS,
                                    2 * HANDLE_RADIUS, 2 * HANDLE_RADIUS))

    @staticmethod
    def _paint_caption(painter: QPainter, text: str, anchor: QPointF) -> None:
        if not text:  # an arrow without words
            return
        metrics = QFontMetricsF(painter.font())
        box = QRectF(anchor.x() + CAPTION_OFFSET, anchor.y() - CAPTION_OFFSET - metrics.height(),
                     metrics.horizontalAdvance(text) + 6, metrics.height() + 2)
        label = overlays.label_colours()
        painter.fillRect(box, qcolour(label.background, label.background_alpha))
        painter.setPen(MEASUREMENT_COLOUR)
        painter.drawText(box, Qt.AlignCenter, text)


def caption_anchor(kind: str, screen: list[QPointF]) -> QPointF:
    """Where a caption starts on screen: a ruler's end, an angle's vertex, the CTR's thorax line's right end,
    an arrow's tail."""
    if kind in ("angle", "arrow"):
        return screen[1]
    if kind == "ctr":
        return max(screen[2:], key=lambda point: point.x())
    return max(screen, key=lambda point: point.x())


class MeasurementPanel(QWidget):
    """The shown image's measurements, one line each in full words, with Delete (button or key)."""

    def __init__(self, layer: MeasurementLayer, parent: QWidget | None = None):
        super().__init__(parent)
        self.layer = layer
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.list.setWordWrap(True)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected measurements (Del)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        layout.addWidget(self.delete_button, alignment=Qt.AlignRight)
        self.delete_button.clicked.connect(self.delete_selected)
        self.list.currentRowChanged.connect(lambda row: layer.select(row if row >= 0 else None))
        layer.changed.connect(self.refresh)
        self.refresh()

    def descriptions(self) -> list[str]:
        return [self.list.item(row).text() for row in range(self.list.count())]

    def refresh(self) -> None:
        self.list.clear()
        image, measurements = self.layer.canvas.image, self.layer.measurements()
        for text in measurements.describe(image) if measurements is not None else []:
            item = QListWidgetItem(text)
            item.setToolTip(text)
            self.list.addItem(item)
        self.delete_button.setEnabled(self.list.count() > 0)

    def delete_selected(self) -> None:
        rows = sorted({index.row() for index in self.list.selectedIndexes()}, reverse=True)
        if not rows and self.list.currentRow() >= 0:
            rows = [self.list.currentRow()]
        for row in rows:
            self.layer.remove(row)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key_Delete, Qt.Key_Backspace):
            self.delete_selected()
        else:
            super().keyPressEvent(event)
