"""The image canvas: draws the windowed image with its ViewState, overlay layers registered to the
image, and corner annotations; turns mouse input into window/level, zoom and pan."""

from dataclasses import replace

import numpy as np
from PyQt5.QtCore import QPoint, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QTransform
from PyQt5.QtWidgets import QWidget

from xraydesk.imaging import (
    ImageDisplay,
    Preview,
    ViewState,
    Window,
    XRayImage,
    drag_reduction,
    fit_transform,
)
from xraydesk.imaging.header import format_age, format_study_date, header_text
from xraydesk.imaging.view import UPRIGHT, Orientation, ViewTransform

WHEEL_ZOOM_PER_NOTCH = 1.25
ANNOTATION_MARGIN = 8


class OverlayLayer:
    """Something drawn over the image in image pixel coordinates (heatmaps, lung zones,
    measurements). The canvas sets the painter's transform, so layers stay registered to the
    image under any zoom and pan."""

    visible = True
    # Where labels drawn at a fixed size on screen may go: the canvas less its corner texts (set by the
    # canvas before each paint; None: anywhere).
    label_area: QRectF | None = None

    def paint(self, painter: QPainter, image: XRayImage) -> None:
        raise NotImplementedError

    def corner_lines(self, image: XRayImage) -> dict[str, list[str]]:
        """Lines this layer adds to the corner texts (e.g. the six-zone score), which never overlap."""
        return {}


def qtransform(transform: ViewTransform) -> QTransform:
    a, b, c, d, e, f = transform.matrix()
    return QTransform(a, c, b, d, e, f)  # Qt's order: m11 m12 m21 m22 dx dy, x' = m11 x + m21 y + dx


def age_and_sex(image: XRayImage) -> str:
    age, sex = format_age(header_text(image, "PatientAge")), header_text(image, "PatientSex")
    return " · ".join(filter(None, [f"Age {age}" if age else "", f"Sex {sex}" if sex else ""]))


class ImageCanvas(QWidget):
    viewChanged = pyqtSignal(object)  # ViewState
    imagePainted = pyqtSignal(object)  # XRayImage (a preview's too), once per image, on its first paint
    cursorValue = pyqtSignal(str)  # the image pixel under the cursor and its modality value; "" off the image

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(200, 200)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMouseTracking(True)  # the value under the cursor, and measurements following it
        self.display: ImageDisplay | None = None
        self.view: ViewState | None = None
        self.message = "Open an image or a folder (File menu), or drop files here."
        self.show_patient_data = True
        self.left_button_windows = False
        self.overlays: list[OverlayLayer] = []
        # Gets left-button input in image coordinates first (measurements): press(x, y) -> bool (taken),
        # move(x, y) (also with no button down), release(x, y), cancel() -> bool (Esc was used).
        self.tool = None
        self._tool_pressed = False
        self.preview: Preview | None = None  # shown until set_image(its full image)
        self._frame: np.ndarray | None = None  # the uint8 pixels the QImage points into
        self._qimage: QImage | None = None
        self._frame_reduction = 1  # image pixels per frame pixel: a preview's, or while window/level is dragged
        self._drag_button = Qt.NoButton
        self._drag_origin = QPoint()
        self._drag_start_view: ViewState | None = None
        self._painted_current = False

    # ------------------------------------------------------------ state

    @property
    def image(self) -> XRayImage | None:
        """The full image on screen; None also while only its preview is shown."""
        return self.display.image if self.display and self.preview is None else None

    @property
    def image_size(self) -> tuple[int, int]:
        """Width and height of the image on screen (of the full image while its preview is shown)."""
        if self.preview is not None:
            return self.preview.full_width, self.preview.full_height
        return self.display.image.width, self.display.image.height

    def set_image(self, image: XRayImage, display: ImageDisplay | None = None) -> None:
        """`display`: the image's shared display mapping (StudySession caches one per image). The
        full image of the preview on screen keeps the view (zoom, pan, orientation, window/level)."""
        completes_preview = self.preview is not None and self.preview.image.path == image.path
        preview_window = self.display.default_window() if completes_preview else None
        self.display = display if display is not None and display.image is image else ImageDisplay(image)
        self.preview = None
        if completes_preview:
            # An untouched automatic window becomes the full image's own (the same for header windows).
            window = self.display.default_window() if self.view.window == preview_window else self.view.window
            view = replace(self.view, window=window)
        else:
            view = ViewState(window=self.display.default_window(), transform=self._fitted())
        self._painted_current = False
        self._apply_view(view, rerender=True)

    def show_preview(self, preview: Preview, display: ImageDisplay | None = None) -> None:
        """A reduced-resolution decode, drawn over the full image's area, until set_image(the full
        image). Ignored when the full image is on screen already."""
        if self.image is not None and self.image.path == preview.image.path:
            return
        self.preview = preview
        self.display = display if display is not None and display.image is preview.image else ImageDisplay(preview.image)
        self._painted_current = False
        self._apply_view(ViewState(window=self.display.default_window(), transform=self._fitted()), rerender=True)

    def show_message(self, message: str) -> None:
        """Replace the image with a message (e.g. why a file could not be opened)."""
        self.display = self.view = self.preview = self._frame = self._qimage = None
        self.message = message
        self.update()

    def set_window(self, window: Window) -> None:
        if self.view:
            self._apply_view(replace(self.view, window=window), rerender=True)

    def set_invert(self, invert: bool) -> None:
        if self.view:
            self._apply_view(replace(self.view, invert=invert), rerender=True)

    def reset_view(self) -> None:
        if self.display:
            self._apply_view(ViewState(self.display.default_window(), transform=self._fitted()), rerender=True)

    def fit(self) -> None:
        if self.view:
            self._apply_view(replace(self.view, transform=self._fitted(self.view.transform.orientation), fitted=True))

    def rotate(self, clockwise_turns: int) -> None:
        """Display only: the file, and the image the AI sees, stay as stored."""
        if self.view:
            self._reorient(self.view.transform.orientation.rotated(clockwise_turns))

    def flip(self, horizontal: bool) -> None:
        if self.view:
            self._reorient(self.view.transform.orientation.flipped(horizontal))

    def _reorient(self, orientation: Orientation) -> None:
        if self.view.fitted:
            transform = self._fitted(orientation)
        else:
            transform = self.view.transform.reoriented(orientation, self.width() / 2, self.height() / 2)
        self._apply_view(replace(self.view, transform=transform))

    def zoom_to(self, scale: float) -> None:
        if self.view:
            transform = self.view.transform.at_scale_about_center(scale, self.width(), self.height())
            self._apply_view(replace(self.view, transform=transform, fitted=False))

    def zoom_by(self, factor: float, anchor_x: float | None = None, anchor_y: float | None = None) -> None:
        if self.view:
            anchor_x = self.width() / 2 if anchor_x is None else anchor_x
            anchor_y = self.height() / 2 if anchor_y is None else anchor_y
            transform = self.view.transform.zoomed_at(factor, anchor_x, anchor_y)
            self._apply_view(replace(self.view, transform=transform, fitted=False))

    def set_show_patient_data(self, show: bool) -> None:
        self.show_patient_data = show
        self.update()

    def add_overlay(self, layer: OverlayLayer) -> None:
        self.overlays.append(layer)
        self.update()

    def remove_overlay(self, layer: OverlayLayer) -> None:
        self.overlays.remove(layer)
        self.update()

    def displayed_pixels(self) -> np.ndarray | None:
        """The 8-bit image as windowed now (before zoom), e.g. for export and tests; reduced while
        a preview is shown or window/level is dragged."""
        return self._frame

    def _fitted(self, orientation: Orientation = UPRIGHT):
        width, height = self.image_size
        return fit_transform(width, height, max(self.width(), 1), max(self.height(), 1), orientation)

    def set_view(self, view: ViewState) -> None:
        """Another view's state (a linked viewport, the reading model's): re-rendered only when the
        window or invert changes."""
        if self.view is not None and view != self.view:
            self._apply_view(view, rerender=(view.window, view.invert) != (self.view.window, self.view.invert))

    def _apply_view(self, view: ViewState, rerender: bool = False, dragging: bool = False) -> None:
        self.view = view
        if rerender:
            self._render(dragging)
        self.update()
        self.viewChanged.emit(view)

    def _render(self, dragging: bool = False) -> None:
        """`dragging`: window/level follows the mouse; a frame no finer than the screen is enough
        (the full one follows on release)."""
        base = self.preview.reduction if self.preview else 1
        reduction = drag_reduction(self.view.transform.scale * base) if dragging else 1
        frame = self.display.render(self.view.window, self.view.invert, reduction)
        height, width = frame.shape
        self._frame = frame
        self._frame_reduction = base * reduction
        self._qimage = QImage(frame.data, width, height, width, QImage.Format_Grayscale8)

    # ------------------------------------------------------------ painting

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.black)
        if self._qimage is None:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, self.message)
            return
        transform = self.view.transform
        painter.save()
        painter.setTransform(qtransform(transform))
        # Smoothing only when shrinking: enlarged pixels stay sharp squares, as radiologists expect.
        painter.setRenderHint(QPainter.SmoothPixmapTransform, transform.scale < 1)
        reduction = self._frame_reduction
        painter.drawImage(QRectF(0, 0, self._qimage.width() * reduction, self._qimage.height() * reduction), self._qimage)
        annotations = self._annotation_layout()
        label_area = self._area_between(annotations)
        for layer in self.overlays if self.image is not None else []:
            if layer.visible:
                layer.label_area = label_area
                layer.paint(painter, self.image)
        painter.restore()
        self._paint_annotations(painter, annotations)
        painter.end()
        if not self._painted_current:
            self._painted_current = True
            self.imagePainted.emit(self.display.image)

    def annotation_lines(self) -> dict[str, list[str]]:
        """Corner texts: top-left/top-right hold patient and study data (hidden on request); visible
        layers add theirs nearest the image's centre."""
        image, view = self.display.image, self.view
        bottom_left = [view.window.caption()]
        if view.invert:
            bottom_left.append("Inverted")
        view_position = header_text(image, "ViewPosition")
        corners = {
            "top_left": [],
            "top_right": [image.keys.modality or image.source_format, image.body_part,
                          f"View {view_position}" if view_position else ""],
            "bottom_left": image.notices + bottom_left + view.transform.orientation.captions(),
            "bottom_right": [f"Zoom {view.zoom_percent:.0f}%", "{} x {}".format(*self.image_size),
                             f"Preview (1/{self.preview.reduction} resolution)" if self.preview else ""],
        }
        if self.show_patient_data:
            keys = image.keys
            corners["top_left"] = [keys.patient_name, keys.patient_id, age_and_sex(image), image.path.name]
            corners["top_right"] = [format_study_date(keys.study_date), keys.study_description] + corners["top_right"]
        for layer in self.overlays if self.image is not None else []:  # layers wait for the full image
            if layer.visible:
                for corner, lines in layer.corner_lines(image).items():
                    corners[corner] = lines + corners[corner] if corner.startswith("bottom") else corners[corner] + lines
        return {corner: [line for line in lines if line] for corner, lines in corners.items()}

    def _annotation_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSize(9)
        return font

    def _annotation_layout(self) -> list[tuple[QRectF, int, str]]:
        """Each corner's text, its box (within its half of the width) and alignment."""
        metrics = QFontMetrics(self._annotation_font())
        area = QRectF(self.rect()).adjusted(ANNOTATION_MARGIN, ANNOTATION_MARGIN, -ANNOTATION_MARGIN, -ANNOTATION_MARGIN)
        alignments = {
            "top_left": Qt.AlignTop | Qt.AlignLeft,
            "top_right": Qt.AlignTop | Qt.AlignRight,
            "bottom_left": Qt.AlignBottom | Qt.AlignLeft,
            "bottom_right": Qt.AlignBottom | Qt.AlignRight,
        }
        # Each corner wraps within its half of the width, so a long notice never runs into the other side.
        halves = {"left": area.adjusted(0, 0, -(area.width() + ANNOTATION_MARGIN) / 2, 0),
                  "right": area.adjusted((area.width() + ANNOTATION_MARGIN) / 2, 0, 0, 0)}
        layout = []
        for corner, lines in self.annotation_lines().items():
            box = halves[corner.split("_")[1]]
            # Words wrap; a single word too long for the corner (an ID, a file name) is elided in the middle.
            text = "\n".join(line if " " in line else metrics.elidedText(line, Qt.ElideMiddle, int(box.width()))
                             for line in lines)
            layout.append((box, int(alignments[corner] | Qt.TextWordWrap), text))
        return layout

    def corner_text_boxes(self, layout: list[tuple[QRectF, int, str]] | None = None) -> list[QRectF]:
        """Where the corner texts are drawn (`layout`: _annotation_layout's, made anew when not given)."""
        metrics = QFontMetrics(self._annotation_font())
        return [QRectF(metrics.boundingRect(box.toRect(), flags, text))
                for box, flags, text in (layout if layout is not None else self._annotation_layout()) if text]

    def _area_between(self, layout: list[tuple[QRectF, int, str]]) -> QRectF:
        """The band between the top and the bottom corner texts."""
        area = QRectF(self.rect())
        for used in self.corner_text_boxes(layout):
            if used.center().y() < area.center().y():
                area.setTop(max(area.top(), used.bottom() + ANNOTATION_MARGIN / 2))
            else:
                area.setBottom(min(area.bottom(), used.top() - ANNOTATION_MARGIN / 2))
        return area

    def _paint_annotations(self, painter: QPainter, layout: list[tuple[QRectF, int, str]]) -> None:
        painter.setFont(self._annotation_font())
        for box, flags, text in layout:
            # A dark outline keeps the text legible over bright bone.
            painter.setPen(QColor(0, 0, 0))
            painter.drawText(box.translated(1, 1), flags, text)
            painter.setPen(QColor(255, 220, 120))
            painter.drawText(box, flags, text)

    # ------------------------------------------------------------ input

    def resizeEvent(self, event) -> None:
        if self.view and self.view.fitted:
            self._apply_view(replace(self.view, transform=self._fitted(self.view.transform.orientation)))
        super().resizeEvent(event)

    def wheelEvent(self, event) -> None:
        notches = event.angleDelta().y() / 120
        if notches and self.view:
            self.zoom_by(WHEEL_ZOOM_PER_NOTCH**notches, event.pos().x(), event.pos().y())

    def mousePressEvent(self, event) -> None:
        if self.view and event.button() == Qt.LeftButton and self.tool is not None and self.tool.press(*self._image_point(event)):
            self._tool_pressed = True
            return
        if self.view and event.button() in (Qt.LeftButton, Qt.MiddleButton, Qt.RightButton):
            self._drag_button = event.button()
            self._drag_origin = event.pos()
            self._drag_start_view = self.view

    def mouseMoveEvent(self, event) -> None:
        if self.view is None:
            return
        self.cursorValue.emit(self._value_under(event))
        if self.tool is not None:
            self.tool.move(*self._image_point(event))
        if self._drag_start_view is None or self._tool_pressed:
            return
        dx = event.pos().x() - self._drag_origin.x()
        dy = event.pos().y() - self._drag_origin.y()
        start = self._drag_start_view
        if self._drag_is_windowing():
            window = self.display.dragged_window(start.window, dx, dy)
            self._apply_view(replace(self.view, window=window), rerender=True, dragging=True)
        else:
            self._apply_view(replace(self.view, transform=start.transform.panned(dx, dy), fitted=False))

    def mouseReleaseEvent(self, event) -> None:
        if self._tool_pressed and event.button() == Qt.LeftButton:
            self._tool_pressed = False
            self.tool.release(*self._image_point(event))
            return
        if event.button() == self._drag_button:
            if self.view and self._drag_is_windowing():
                self._render()
                self.update()
            self._drag_start_view = None
            self._drag_button = Qt.NoButton

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_Escape and self.tool is not None and self.tool.cancel():
            return
        super().keyPressEvent(event)

    def leaveEvent(self, event) -> None:
        self.cursorValue.emit("")
        super().leaveEvent(event)

    def _image_point(self, event) -> tuple[float, float]:
        return self.view.transform.screen_to_image(event.pos().x(), event.pos().y())

    def _value_under(self, event) -> str:
        """The pixel's column and row in the stored image and its modality value (after Rescale)."""
        x, y = (int(np.floor(value)) for value in self._image_point(event))
        if self.image is None:  # a preview's values are not the image's
            return ""
        pixels = self.image.pixels
        if not (0 <= x < pixels.shape[1] and 0 <= y < pixels.shape[0]):
            return ""
        value = pixels[y, x]
        words = f"{value:g}" if np.issubdtype(pixels.dtype, np.floating) else f"{int(value)}"
        return f"x {x}  y {y}  value {words}"

    def _drag_is_windowing(self) -> bool:
        return self._drag_button == Qt.RightButton or (self._drag_button == Qt.LeftButton and self.left_button_windows)
