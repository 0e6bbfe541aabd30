"""The image canvas: draws the windowed image with its ViewState, overlay layers registered to the
image, and corner annotations; turns mouse input into window/level, zoom and pan."""

from dataclasses import replace

import numpy as np
from PyQt5.QtCore import QPoint, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QFont, QImage, QPainter, QTransform
from PyQt5.QtWidgets import QWidget

from xraydesk.imaging import ImageDisplay, ViewState, Window, XRayImage, fit_transform

WHEEL_ZOOM_PER_NOTCH = 1.25
KEY_ZOOM_STEP = 1.25
ANNOTATION_MARGIN = 8


class OverlayLayer:
    """Something drawn over the image in image pixel coordinates (heatmaps, lung zones,
    measurements). The canvas sets the painter's transform, so layers stay registered to the
    image under any zoom and pan."""

    visible = True

    def paint(self, painter: QPainter, image: XRayImage) -> None:
        raise NotImplementedError


def format_study_date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value


class ImageCanvas(QWidget):
    viewChanged = pyqtSignal(object)  # ViewState
    imagePainted = pyqtSignal(object)  # XRayImage, once per image, on its first paint

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(200, 200)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMouseTracking(False)
        self.display: ImageDisplay | None = None
        self.view: ViewState | None = None
        self.message = "Open an image or a folder (File menu), or drop files here."
        self.show_patient_data = True
        self.left_button_windows = False
        self.overlays: list[OverlayLayer] = []
        self._frame: np.ndarray | None = None  # the uint8 pixels the QImage points into
        self._qimage: QImage | None = None
        self._drag_button = Qt.NoButton
        self._drag_origin = QPoint()
        self._drag_start_view: ViewState | None = None
        self._painted_current = False

    # ------------------------------------------------------------ state

    @property
    def image(self) -> XRayImage | None:
        return self.display.image if self.display else None

    def set_image(self, image: XRayImage) -> None:
        self.display = ImageDisplay(image)
        self.view = ViewState(window=self.display.default_window(), transform=self._fitted())
        self._painted_current = False
        self._apply_view(self.view, rerender=True)

    def show_message(self, message: str) -> None:
        """Replace the image with a message (e.g. why a file could not be opened)."""
        self.display = self.view = self._frame = self._qimage = None
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
            self._apply_view(replace(self.view, transform=self._fitted(), fitted=True))

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
        """The 8-bit image as windowed now (before zoom), e.g. for export and tests."""
        return self._frame

    def _fitted(self):
        image = self.display.image
        return fit_transform(image.width, image.height, max(self.width(), 1), max(self.height(), 1))

    def _apply_view(self, view: ViewState, rerender: bool = False) -> None:
        self.view = view
        if rerender:
            self._render()
        self.update()
        self.viewChanged.emit(view)

    def _render(self) -> None:
        frame = self.display.render(self.view.window, self.view.invert)
        height, width = frame.shape
        self._frame = frame
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
        painter.setTransform(QTransform(transform.scale, 0, 0, transform.scale, transform.offset_x, transform.offset_y))
        # Smoothing only when shrinking: enlarged pixels stay sharp squares, as radiologists expect.
        painter.setRenderHint(QPainter.SmoothPixmapTransform, transform.scale < 1)
        painter.drawImage(QPoint(0, 0), self._qimage)
        for layer in self.overlays:
            if layer.visible:
                layer.paint(painter, self.image)
        painter.restore()
        self._paint_annotations(painter)
        painter.end()
        if not self._painted_current:
            self._painted_current = True
            self.imagePainted.emit(self.image)

    def annotation_lines(self) -> dict[str, list[str]]:
        """Corner texts: top-left/top-right hold patient and study data (hidden on request)."""
        image, view = self.image, self.view
        bottom_left = [view.window.caption()]
        if view.invert:
            bottom_left.append("Inverted")
        corners = {
            "top_left": [],
            "top_right": [image.modality or image.source_format, image.body_part],
            "bottom_left": image.notices + bottom_left,
            "bottom_right": [f"Zoom {view.zoom_percent:.0f}%", f"{image.width} x {image.height}"],
        }
        if self.show_patient_data:
            corners["top_left"] = [image.patient_name, image.patient_id, image.path.name]
            corners["top_right"] = [format_study_date(image.study_date), image.study_description] + corners["top_right"]
        return {corner: [line for line in lines if line] for corner, lines in corners.items()}

    def _paint_annotations(self, painter: QPainter) -> None:
        font = QFont(self.font())
        font.setPointSize(9)
        painter.setFont(font)
        area = QRectF(self.rect()).adjusted(ANNOTATION_MARGIN, ANNOTATION_MARGIN, -ANNOTATION_MARGIN, -ANNOTATION_MARGIN)
        alignments = {
            "top_left": Qt.AlignTop | Qt.AlignLeft,
            "top_right": Qt.AlignTop | Qt.AlignRight,
            "bottom_left": Qt.AlignBottom | Qt.AlignLeft,
            "bottom_right": Qt.AlignBottom | Qt.AlignRight,
        }
        for corner, lines in self.annotation_lines().items():
            text = "\n".join(lines)
            # A dark outline keeps the text legible over bright bone.
            painter.setPen(QColor(0, 0, 0))
            painter.drawText(area.translated(1, 1), alignments[corner], text)
            painter.setPen(QColor(255, 220, 120))
            painter.drawText(area, alignments[corner], text)

    # ------------------------------------------------------------ input

    def resizeEvent(self, event) -> None:
        if self.view and self.view.fitted:
            self._apply_view(replace(self.view, transform=self._fitted()))
        super().resizeEvent(event)

    def wheelEvent(self, event) -> None:
        notches = event.angleDelta().y() / 120
        if notches and self.view:
            self.zoom_by(WHEEL_ZOOM_PER_NOTCH**notches, event.pos().x(), event.pos().y())

    def mousePressEvent(self, event) -> None:
        if self.view and event.button() in (Qt.LeftButton, Qt.MiddleButton, Qt.RightButton):
            self._drag_button = event.button()
            self._drag_origin = event.pos()
            self._drag_start_view = self.view

    def mouseMoveEvent(self, event) -> None:
        if self._drag_start_view is None:
            return
        dx = event.pos().x() - self._drag_origin.x()
        dy = event.pos().y() - self._drag_origin.y()
        start = self._drag_start_view
        if self._drag_is_windowing():
            self.set_window(self.display.dragged_window(start.window, dx, dy))
        else:
            self._apply_view(replace(self.view, transform=start.transform.panned(dx, dy), fitted=False))

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == self._drag_button:
            self._drag_start_view = None
            self._drag_button = Qt.NoButton

    def _drag_is_windowing(self) -> bool:
        return self._drag_button == Qt.RightButton or (self._drag_button == Qt.LeftButton and self.left_button_windows)
