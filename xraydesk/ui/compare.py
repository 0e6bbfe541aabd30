"""Compare with prior: the current image on the right (the window's own canvas, lent to this view), an
earlier study of the same patient on the left (the hanging protocol's choice, StudySession.hanging_prior:
the most recent earlier film of the same view position, else the most recent earlier study), each with
its own corner text and its own heatmap and zones; the prior's corner text opens with "PRIOR — how long
before", above its date. "Earlier" is the rule of xraydesk.imaging.study_order (the trend's): a study of
the same day counts when its time is earlier.

The two viewports are linked while "Link views" is on: a change of window/level, zoom or pan in one is
applied to the other. The films of two studies rarely have the same size or detector, so the link
matches them in relative terms, which keeps the same anatomy in the same place on both screens:
- zoom: each view's scale relative to its own fit-to-window scale (both fit, both twice fit, ...);
- pan: the image point at the view's centre, as a fraction of the image's width and height;
- window/level: in units of each image's default window (the same shift of the centre and the same
  ratio of widths, scaled by the ratio of the default widths); a view at its default window gives the
  other its own default (a header VOI LUT included).
Rotation, flips and invert stay each view's own."""

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from PyQt5.QtCore import QObject, Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QAction,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.imaging import (
    ImageDisplay,
    ViewState,
    ViewTransform,
    Window,
    XRayImage,
    fit_transform,
)
from xraydesk.imaging.header import format_study_date
from xraydesk.imaging.session import Study, StudySession
from xraydesk.imaging.study_order import StudyMoment, interval_words
from xraydesk.ui.canvas import ImageCanvas
from xraydesk.ui.overlays import HeatmapLayer, ZoneLayer

NO_PRIOR = ("No earlier study of this patient is open (same Patient ID, an earlier Study Date, or the same date "
            "and an earlier time).")


# ------------------------------------------------------------ words


def prior_caption(prior: StudyMoment, current: StudyMoment) -> str:
    """"PRIOR — 6 days earlier": the first corner line of the prior, above its study date (kept short, so
    that it fits beside the patient's name in a half-width view)."""
    return f"PRIOR — {interval_words(prior, current)}"


def study_choice(study: Study, current: StudyMoment, show_date: bool = True) -> str:
    """A prior study as the menu lists it."""
    parts = [format_study_date(study.study_date)] if show_date else []
    parts += [interval_words(study.moment, current), study.description or "no description"]
    images = len(study.paths)
    return " · ".join(parts) + (f" ({images} images)" if images > 1 else "")


def study_image(study: Study, analyses: Mapping[Path, ImageAnalysis]) -> Path:
    """The study's image shown beside the current one: its first image (in browser order) that the
    model accepted (so a frontal film: laterals are refused), else its first image."""
    accepted = [path for path in study.paths if path in analyses and analyses[path].prediction is not None]
    return (accepted or list(study.paths))[0]


# ------------------------------------------------------------ linking two views


def linked_window(window: Window, default: Window, other_default: Window) -> Window:
    if window == default:
        return other_default
    ratio = other_default.width / max(default.width, 1e-9)
    return other_default.adjusted(other_default.center + (window.center - default.center) * ratio,
                                  window.width * ratio, window.label or "Linked")


def linked_transform(transform: ViewTransform, image_size: tuple[int, int], view_size: tuple[int, int],
                     other: ViewTransform, other_image_size: tuple[int, int],
                     other_view_size: tuple[int, int]) -> ViewTransform:
    """`other` (in its own orientation) zoomed and panned to match `transform` in relative terms."""
    fit_scale = fit_transform(*image_size, *view_size, transform.orientation).scale
    other_fit_scale = fit_transform(*other_image_size, *other_view_size, other.orientation).scale
    centre_x, centre_y = transform.screen_to_image(view_size[0] / 2, view_size[1] / 2)
    fraction_x, fraction_y = centre_x / image_size[0], centre_y / image_size[1]
    scaled = replace(other, scale=other_fit_scale * transform.scale / fit_scale, offset_x=0.0, offset_y=0.0)
    screen_x, screen_y = scaled.image_to_screen(fraction_x * other_image_size[0], fraction_y * other_image_size[1])
    return scaled.panned(other_view_size[0] / 2 - screen_x, other_view_size[1] / 2 - screen_y)


def _sizes(canvas: ImageCanvas) -> tuple[tuple[int, int], tuple[int, int]]:
    """The image's size (the full image's while a preview is shown) and the view's."""
    return canvas.image_size, (max(canvas.width(), 1), max(canvas.height(), 1))


class ViewLink(QObject):
    """Keeps two canvases' window/level, zoom and pan together while enabled (see the module's words)."""

    def __init__(self, first: ImageCanvas, second: ImageCanvas, parent: QObject | None = None):
        super().__init__(parent)
        self.first, self.second = first, second
        self.enabled = True
        self._following = False  # a follower's own viewChanged must not echo back to its leader
        self._default_windows: dict[int, tuple[ImageDisplay, Window]] = {}
        first.viewChanged.connect(self._first_changed)
        second.viewChanged.connect(self._second_changed)

    def unlink(self) -> None:
        self.first.viewChanged.disconnect(self._first_changed)
        self.second.viewChanged.disconnect(self._second_changed)

    def set_enabled(self, enabled: bool) -> None:
        """Linking again brings the second view to the first."""
        self.enabled = enabled
        if enabled:
            self.follow(self.first, self.second)

    def _first_changed(self, _view) -> None:
        self.follow(self.first, self.second)

    def _second_changed(self, _view) -> None:
        self.follow(self.second, self.first)

    def follow(self, leader: ImageCanvas, follower: ImageCanvas) -> None:
        if not self.enabled or self._following or leader.view is None or follower.view is None:
            return
        self._following = True
        try:
            view = self.linked_view(leader, follower)
            follower.set_view(view)
        finally:
            self._following = False

    def linked_view(self, leader: ImageCanvas, follower: ImageCanvas) -> ViewState:
        window = linked_window(leader.view.window, self._default_window(leader), self._default_window(follower))
        image_size, view_size = _sizes(follower)
        if leader.view.fitted:
            transform = fit_transform(*image_size, *view_size, follower.view.transform.orientation)
        else:
            transform = linked_transform(leader.view.transform, *_sizes(leader), follower.view.transform,
                                         image_size, view_size)
        return replace(follower.view, window=window, transform=transform, fitted=leader.view.fitted)

    def _default_window(self, canvas: ImageCanvas) -> Window:
        """Cached: an automatic default window takes percentiles of the image, too slow per mouse move."""
        display, window = self._default_windows.get(id(canvas), (None, None))
        if display is not canvas.display:
            display, window = canvas.display, canvas.display.default_window()
            self._default_windows[id(canvas)] = (display, window)
        return window


# ------------------------------------------------------------ the view


class PriorCanvas(ImageCanvas):
    """The prior's viewport: its corner text opens with "PRIOR — how long before the current", then the date."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = ""  # prior_caption of the study shown

    def annotation_lines(self) -> dict[str, list[str]]:
        corners = super().annotation_lines()
        corners["top_right"].insert(0, self.caption)
        return corners


def pane(header: QHBoxLayout, canvas: QWidget | None = None) -> QWidget:
    """A header row above a canvas (the current pane gets its canvas when compare mode starts)."""
    widget = QWidget()
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addLayout(header)
    if canvas is not None:
        layout.addWidget(canvas, 1)
    return widget


class CompareView(QWidget):
    """The split view. It borrows the window's canvas (attach / detach) and decodes the prior through
    `decode(path, on_ready, on_failed)` (SessionController.decode_for); `analyses` is the window's
    live map of AI results (AnalysisController.results)."""

    leaveRequested = pyqtSignal()  # Esc
    analyseRequested = pyqtSignal(object)  # the prior's XRayImage

    def __init__(self, current_layers: tuple[HeatmapLayer, ZoneLayer], session: StudySession,
                 decode: Callable, analyses: Mapping[Path, ImageAnalysis], link_action: QAction,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.current_layers, self.session, self.decode, self.analyses = current_layers, session, decode, analyses
        self.link_action = link_action
        self.current: ImageCanvas | None = None
        self.current_image: XRayImage | None = None
        self.current_moment: StudyMoment | None = None
        self.priors: list[Study] = []
        self.link: ViewLink | None = None
        self._wanted_prior: Path | None = None
        self.prior = PriorCanvas()
        self.prior_layers = (HeatmapLayer(), ZoneLayer())
        for layer in self.prior_layers:
            self.prior.add_overlay(layer)
        self.prior_menu = QComboBox(toolTip="An earlier study of this patient")
        self.prior_menu.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.prior_menu.setMinimumContentsLength(10)  # narrow panes stay even: the menu shows the rest
        self.analyse_button = QToolButton(text="Analyse", toolTip="Analyse the prior image", visible=False)
        link_action.setIconText("Link")  # the header's short name for the toggle
        link_action.setToolTip("Link views: window/level, zoom and pan move together in both views")
        link_button = QToolButton()
        link_button.setDefaultAction(link_action)
        prior_header = QHBoxLayout()
        for widget in (QLabel("<b>Prior</b>"), self.prior_menu, self.analyse_button):
            prior_header.addWidget(widget)
        prior_header.addStretch(1)
        prior_header.addWidget(link_button)
        self.current_title = QLabel(minimumHeight=self.prior_menu.sizeHint().height())  # canvases level
        current_header = QHBoxLayout()
        current_header.addWidget(self.current_title)
        current_header.addStretch(1)
        self.current_pane = pane(current_header)
        self.splitter = QSplitter(Qt.Horizontal, childrenCollapsible=False)
        self.splitter.addWidget(pane(prior_header, self.prior))
        self.splitter.addWidget(self.current_pane)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.prior_menu.activated.connect(self._show_prior)
        self.analyse_button.clicked.connect(lambda: self.analyseRequested.emit(self.prior.image))
        link_action.toggled.connect(self._set_linked)

    # ------------------------------------------------------------ the current image

    def attach(self, canvas: ImageCanvas) -> None:
        """Takes the window's canvas into the right pane (the window gets it back after detach())."""
        self.current = canvas
        self.current_pane.layout().addWidget(canvas, 1)
        canvas.show()
        self.splitter.setSizes([self.width(), self.width()])  # even halves
        self.link = ViewLink(canvas, self.prior, self)
        self.link.enabled = self.link_action.isChecked()
        self.follow_current()

    def detach(self) -> None:
        """Lets the canvas go (the caller reparents it); a prior still decoding is no longer wanted."""
        self.link.unlink()
        self.link.deleteLater()
        self.link = None
        self._wanted_prior = None
        self.current_pane.layout().removeWidget(self.current)
        self.current.setParent(None)
        self.current = self.current_image = None

    def set_current(self, image: XRayImage) -> None:
        """The image on the right changed: list its priors and show the most recent."""
        if self.current_image is not None and image.path == self.current_image.path:
            return
        self.current_image = image
        study = self.session.study_of(image.path)
        self.current_moment = study.moment if study is not None else None
        self.priors = self.session.prior_studies(image.path)
        self._fill_prior_menu()
        hanging = self.session.hanging_prior(image.path)
        if hanging is not None:
            self._show_prior(*hanging)
        else:
            self._wanted_prior = None
            self.prior.show_message(NO_PRIOR)
            self.analyse_button.setVisible(False)

    def _fill_prior_menu(self) -> None:
        index = self.prior_menu.currentIndex()
        self.prior_menu.clear()
        show_date = self.prior.show_patient_data
        for study in self.priors:
            self.prior_menu.addItem(study_choice(study, self.current_moment, show_date))
        self.prior_menu.setEnabled(bool(self.priors))
        self.prior_menu.setCurrentIndex(min(max(index, 0), len(self.priors) - 1))
        current_date = format_study_date(self.current_image.keys.study_date) if show_date else ""
        self.current_title.setText(f"<b>Current</b> {current_date}".rstrip())

    # ------------------------------------------------------------ the prior

    def _show_prior(self, index: int, path: Path | None = None) -> None:
        """The prior study at `index` in the menu: `path`, else its first frontal film (study_image)."""
        path = path or study_image(self.priors[index], self.analyses)
        self.prior.caption = prior_caption(self.priors[index].moment, self.current_moment)
        self.prior_menu.setCurrentIndex(index)
        self._wanted_prior = path
        self.prior.show_message(f"Opening {path.name}…")
        self.decode(path, self._on_prior_ready, lambda message: self._on_prior_failed(path, message))

    def _on_prior_ready(self, display: ImageDisplay) -> None:
        if display.image.path != self._wanted_prior:
            return
        self.prior.set_image(display.image, display)
        self._set_prior_analysis(self.analyses.get(display.image.path))
        if self.link is not None:
            self.link.follow(self.current, self.prior)

    def _on_prior_failed(self, path: Path, message: str) -> None:
        if path == self._wanted_prior:
            self.prior.show_message(message)
            self.analyse_button.setVisible(False)

    def show_analysis(self, analysis: ImageAnalysis | None) -> None:
        """A new AI result (None: an image that could not be analysed): drawn over the prior when it is
        the prior's (the current image's result is the window's)."""
        if analysis is not None and self.prior.image is not None and analysis.path == self.prior.image.path:
            self._set_prior_analysis(analysis)

    def _set_prior_analysis(self, analysis: ImageAnalysis | None) -> None:
        for layer in self.prior_layers:
            layer.set_analysis(analysis)
        self.analyse_button.setVisible(analysis is None)
        self.prior.update()

    # ------------------------------------------------------------ following the window

    def follow_current(self, *_ignored) -> None:
        """The prior's overlays, patient data and left-button mode (pan or window) as the current view has them."""
        heatmap, zones = self.current_layers
        prior_heatmap, prior_zones = self.prior_layers
        prior_heatmap.settings = heatmap.settings
        prior_heatmap.visible, prior_zones.visible = heatmap.visible, zones.visible
        if self.current is not None:
            self.prior.left_button_windows = self.current.left_button_windows
            self.prior.set_show_patient_data(self.current.show_patient_data)
        if self.current_image is not None:
            self._fill_prior_menu()
        self.prior.update()

    def _set_linked(self, linked: bool) -> None:
        if self.link is not None:
            self.link.set_enabled(linked)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_Escape:
            self.leaveRequested.emit()
        else:
            super().keyPressEvent(event)
