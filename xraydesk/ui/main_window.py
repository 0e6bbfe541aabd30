"""The main window: wiring only. The reading model (xraydesk.reading: the studies open, the image on
screen and its view, the options, the analyses, and the rules on them) holds the state; the canvas,
the study browser, the tag, AI results, measurements and worklist docks and the menus (built from the
table in xraydesk.ui.actions) observe it; the controllers run its work on workers; the read marker
(xraydesk.ui.read_marks) times how long an image stays on screen, and the reading keeper
(xraydesk.ui.saved_reading) keeps measurements, arrows and key-image marks in the local store."""

import datetime
from pathlib import Path

from PyQt5.QtCore import QSettings, Qt
from PyQt5.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
)

from xraydesk import RESEARCH_USE_NOTICE, __version__
from xraydesk.ai.analysis import Analyser, ImageAnalysis
from xraydesk.imaging import IMAGE, ImageDisplay, ScanEntry, ViewState
from xraydesk.imaging.session import default_film_dates
from xraydesk.jobs.words import count_words
from xraydesk.reading import Reading
from xraydesk.reading.model import NO_UNREAD_FLAGGED
from xraydesk.ui.actions import ACTIONS
from xraydesk.ui.analysis_controller import AnalysisController
from xraydesk.ui.browser import StudyBrowser
from xraydesk.ui.canvas import ImageCanvas
from xraydesk.ui.compare import NO_PRIOR, CompareView
from xraydesk.ui.export_dialog import ExportScopeDialog
from xraydesk.ui.film_dates_dialog import FilmDatesDialog
from xraydesk.ui.key_bindings import KeyBindings
from xraydesk.ui.measurements import MeasurementLayer, MeasurementPanel
from xraydesk.ui.menus import build_menus, shortcut_rows
from xraydesk.ui.overlays import HeatmapLayer, ZoneLayer
from xraydesk.ui.pacs_controller import PacsController
from xraydesk.ui.pacs_dialogs import PacsSettingsDialog, QueryDialog, SendResultsDialog
from xraydesk.ui.presets_dialog import PresetsDialog
from xraydesk.ui.read_marks import ReadMarker
from xraydesk.ui.results_panel import ResultsPanel
from xraydesk.ui.saved_reading import ReadingKeeper
from xraydesk.ui.session_controller import SessionController
from xraydesk.ui.shortcuts_dialog import ShortcutsDialog
from xraydesk.ui.tag_view import DicomTagView
from xraydesk.ui.workers import Worker, WorkerPool
from xraydesk.ui.worklist import WorklistPanel

MESSAGE_LINES = 12
OPEN_FILTER = "Images (*.dcm *.dicom *.png *.jpg *.jpeg);;All files (*)"
DEIDENTIFIED_EXPORT = "Export de-identified DICOM"
NOT_ANALYSED = "Not analysed yet — Analysis ▸ Analyse image (Ctrl+Return)."
OPENING = "Opening…"
NO_PLAIN_FILMS = "No PNG or JPEG film is open: open a folder of films first (DICOM images have their own dates)."


def settings() -> QSettings:
    return QSettings(QSettings.IniFormat, QSettings.UserScope, "XRayDesk", "XRayDesk")


class QtSettingsStore:
    """The reading model's remembered options and recent files, in the user's QSettings."""

    def value(self, key: str, default):
        return settings().value(key, default, type=type(default))

    def set_value(self, key: str, value) -> None:
        settings().setValue(key, value)


def scrollable(widget) -> QScrollArea:
    """Long panels scroll instead of squeezing their rows on top of each other in a short dock."""
    area = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
    area.setWidget(widget)
    return area


class MainWindow(QMainWindow):
    def __init__(self, analyser: Analyser | None = None):
        """`analyser`: the model logic to use (by default the shipped model, loaded on first use)."""
        super().__init__()
        self.setWindowTitle("XRayDesk — research use only")
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.reading = reading = Reading(analyser, QtSettingsStore())
        self.workers = WorkerPool(self)
        self.studies = SessionController(reading.session, self.workers, parent=self)
        self.analysis = AnalysisController(self.workers, reading, parent=self)
        self.pacs = PacsController(self.workers, parent=self)
        self.canvas = ImageCanvas()
        self.setCentralWidget(self.canvas)
        self.heatmap_layer, self.zone_layer = HeatmapLayer(), ZoneLayer()
        for layer in (self.heatmap_layer, self.zone_layer):
            self.canvas.add_overlay(layer)
        self.measurement_layer = MeasurementLayer(self.canvas, reading.session.measurements)  # drawn on top
        self.read_marker = ReadMarker(reading, self)
        self.saved_reading = ReadingKeeper(reading.session, self.measurement_layer, self.workers, self.pacs.store, self)
        self.browser = StudyBrowser()
        self.tag_view = DicomTagView()
        self.worklist = WorklistPanel()
        self.key_bindings = KeyBindings(ACTIONS, QtSettingsStore())
        self.actions, self.menus = build_menus(self, ACTIONS, reading.options, self.key_bindings.key)
        self.recent_menu = self.menus["recent"]
        self.results_panel = ResultsPanel(self.actions["heatmap"], self.actions["zones"])
        self.compare_view = CompareView((self.heatmap_layer, self.zone_layer), reading.session,
                                        self.studies.decode_for, reading.analyses, self.actions["link_views"])
        self.query_dialog: QueryDialog | None = None
        self._build_docks()
        self._build_status_bar()
        self._connect_reading()
        self._connect_options()
        self._connect_studies()
        self._connect_analysis()
        self._connect_pacs()
        self._connect_saved_reading()
        self._rebuild_recent_menu()
        self.status_label.setText(RESEARCH_USE_NOTICE)

    def _build_docks(self) -> None:
        self.browser_dock = self._add_dock("Studies", self.browser, Qt.LeftDockWidgetArea)
        self.tags_dock = self._add_dock("DICOM tags", self.tag_view, Qt.RightDockWidgetArea)
        self.results_dock = self._add_dock("AI results", scrollable(self.results_panel), Qt.RightDockWidgetArea)
        self.worklist_dock = self._add_dock("Worklist", self.worklist, Qt.BottomDockWidgetArea)
        self.measurements_dock = self._add_dock("Measurements", MeasurementPanel(self.measurement_layer),
                                                Qt.RightDockWidgetArea)
        self.tabifyDockWidget(self.tags_dock, self.results_dock)
        self.tabifyDockWidget(self.results_dock, self.measurements_dock)
        self.results_dock.raise_()
        self.resizeDocks([self.browser_dock, self.tags_dock], [320, 440], Qt.Horizontal)
        self.resizeDocks([self.worklist_dock], [170], Qt.Vertical)
        for dock in (self.browser_dock, self.tags_dock, self.results_dock, self.measurements_dock, self.worklist_dock):
            self.menus["&View"].addAction(dock.toggleViewAction())

    def _add_dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        self.status_label = QLabel()
        self.view_label = QLabel()
        self.cursor_label = QLabel()  # the modality value under the cursor
        self.progress = QProgressBar(maximumWidth=200, visible=False)
        self.statusBar().addWidget(self.status_label, 1)
        for widget in (self.cursor_label, self.view_label, self.progress):
            self.statusBar().addPermanentWidget(widget)

    # ------------------------------------------------------------ the views observe the reading model

    def _connect_reading(self) -> None:
        reading, canvas = self.reading, self.canvas
        reading.preview_shown.connect(canvas.show_preview)  # pixels only: tags, status and AI wait for the image
        reading.image_shown.connect(self._show_image)
        reading.closed.connect(self._show_nothing)
        reading.view_changed.connect(self._show_view)
        reading.analysis_shown.connect(self._show_analysis)
        reading.analysis_wanted.connect(self._analyse)
        reading.analysed.connect(self.compare_view.show_analysis)
        reading.analysed.connect(self._refresh_trend)
        reading.analyses_cleared.connect(self.worklist.clear)
        reading.analyses_cleared.connect(self.analysis.forget)
        reading.recent.changed.connect(self._rebuild_recent_menu)
        reading.session.read_changed.connect(self.worklist.set_read)
        self.results_panel.draft.draftEdited.connect(reading.keep_draft)
        canvas.viewChanged.connect(reading.follow_view)
        canvas.cursorValue.connect(self.cursor_label.setText)
        self.measurement_layer.message.connect(lambda text: text and self._set_status(text))

    def _show_image(self, display: ImageDisplay) -> None:
        image = display.image
        self.canvas.set_image(image, display)
        self.tag_view.set_dataset(image.dataset)
        size = f"{image.width} x {image.height}, {image.bits_stored}-bit"
        self._set_status(f"{self.reading.name_of(image.path)}  {size}  {' '.join(image.notices)}")
        if self.centralWidget() is self.compare_view:
            self.compare_view.set_current(image)

    def _show_nothing(self) -> None:
        self.canvas.show_message(OPENING)
        self.tag_view.set_dataset(None)
        self.results_panel.show_message(NOT_ANALYSED)

    def _show_view(self, view: ViewState) -> None:
        self.canvas.set_view(view)
        self.actions["invert"].setChecked(view.invert)
        window = view.window
        self.view_label.setText(f"WC {window.center:.0f}  WW {window.width:.0f}  Zoom {view.zoom_percent:.0f}%")

    def _show_analysis(self, analysis: ImageAnalysis | None) -> None:
        """The image on screen's result (None: not analysed yet) on the canvas and in the dock."""
        for layer in (self.heatmap_layer, self.zone_layer, self.measurement_layer):
            layer.set_analysis(analysis)
        self.canvas.update()
        if analysis is None:
            self.results_panel.show_message(NOT_ANALYSED)
            return
        self.results_panel.show_analysis(analysis, self.reading.draft_of(analysis))
        self._refresh_trend()

    def _analyse(self, image) -> None:
        self.results_panel.show_message(f"Analysing {self.reading.name_of(image.path)}…", busy=True)
        self.analysis.request(image)

    def _refresh_trend(self, *_ignored) -> None:
        """The course of the shown image's patient, once that image is analysed."""
        if self.reading.shows_trend():
            self.results_panel.show_trend(self.reading.analyses.values(), self.reading.current.path,
                                          self.reading.change_limits,
                                          deidentify=self.reading.options["hide_patient_data"])

    def _connect_options(self) -> None:
        """Each view follows its options; compare follows the current view's after the view's own."""
        options = self.reading.options
        options.observe("heatmap", lambda shown: self._set_layer(self.heatmap_layer, visible=shown))
        options.observe("zones", lambda shown: self._set_layer(self.zone_layer, visible=shown))
        options.observe("heatmap_settings", lambda chosen: self._set_layer(self.heatmap_layer, settings=chosen))
        options.observe("hide_patient_data", self._hide_patient_data)
        options.observe("left_button_windows", lambda windows: setattr(self.canvas, "left_button_windows", windows))
        options.observe("measure_tool", self.measurement_layer.set_mode)
        options.observe("compare", self._set_compare)
        options.changed.connect(self.compare_view.follow_current)
        self.measurement_layer.modeChanged.connect(lambda mode: options.set("measure_tool", mode))
        self.results_panel.heatmapSettingsChanged.connect(lambda chosen: options.set("heatmap_settings", chosen))
        self.compare_view.leaveRequested.connect(lambda: options.set("compare", False))
        self.compare_view.analyseRequested.connect(self.analysis.request)

    def _set_layer(self, layer, **state) -> None:
        for name, value in state.items():
            setattr(layer, name, value)
        self.canvas.update()

    def _hide_patient_data(self, hide: bool) -> None:
        """For screenshots and teaching: corners, browser, tag view and worklist lose names, IDs and dates."""
        for view in (self.canvas, self.browser, self.tag_view, self.worklist, self.results_panel):
            view.set_show_patient_data(not hide)
        self._refresh_trend()

    # ------------------------------------------------------------ opening

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images", "", OPEN_FILTER)
        if paths:
            self.open_paths(paths)

    def choose_folder(self, replace: bool = True) -> None:
        """File ▸ Open folder, or (`replace` False) Add folder: the reading model's Open rule."""
        folder = QFileDialog.getExistingDirectory(self, "Open folder" if replace else "Add folder")
        if folder:
            self.open_paths([folder], replace)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)

    def open_paths(self, paths, replace: bool = True) -> None:
        """Scan files/folders in the background; the first image shows as soon as it is decoded."""
        paths = [Path(path) for path in paths]
        self.reading.recent.remember(paths)
        self.studies.open_paths(paths, replace)

    def recent_paths(self) -> list[str]:
        return self.reading.recent.paths()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for entry in self.recent_paths():
            self.recent_menu.addAction(entry).triggered.connect(lambda _checked, entry=entry: self.open_paths([entry]))
        self.recent_menu.setEnabled(bool(self.recent_paths()))

    def _connect_studies(self) -> None:
        session, studies = self.reading.session, self.studies
        session.cleared.connect(self.browser.clear)
        session.entry_added.connect(self.browser.add_entry)
        session.entry_added.connect(self._show_first_image)
        studies.scanStarted.connect(lambda what: self._set_status(f"Scanning {what}…", busy=True))
        studies.scanProgress.connect(lambda count: self._set_status(f"Scanning… {count} images", busy=True))
        studies.scanFinished.connect(self._on_scan_done)
        studies.scanFailed.connect(self._set_status)
        studies.thumbnailsStarted.connect(self._on_thumbnails_started)
        studies.thumbnailReady.connect(self._on_thumbnail)
        studies.thumbnailsDone.connect(lambda: self.progress.setVisible(False))
        studies.imageFailed.connect(self._on_image_failed)
        studies.previewReady.connect(self.reading.show_preview)
        studies.imageReady.connect(self.reading.show)
        studies.wantedImageFailed.connect(self._on_wanted_image_failed)
        self.browser.imageSelected.connect(self.show_path)

    def _show_first_image(self, entry: ScanEntry) -> None:
        if entry.kind == IMAGE and self.studies.wanted_path is None:
            self.browser.select_path(entry.path)

    def _on_scan_done(self, _entries: list[ScanEntry]) -> None:
        session = self.reading.session
        summary, skipped = session.summary(), session.skipped()
        # The dock keeps the count: the status line moves on to the image shown.
        self.browser_dock.setWindowTitle(f"Studies — {summary}")
        self._set_status(f"{summary} ({self.browser.skipped_summary()})" if skipped else summary)
        retrieved = self.reading.retrieved_image()
        if retrieved is not None:
            self.browser.select_path(retrieved)
        elif self.studies.wanted_path is not None:  # sorted in, the shown image stays selected and in sight
            self.browser.select_path(self.studies.wanted_path)
        elif skipped:
            reasons = [f"{entry.path.name}: {entry.reason}" for entry in skipped[:MESSAGE_LINES]]
            self.reading.show_none()
            self.canvas.show_message("\n".join(["No image to show.", *reasons]))
            self.tag_view.set_dataset(None)

    def _on_thumbnails_started(self, count: int) -> None:
        self.progress.setRange(0, max(count, 1))
        self.progress.setValue(0)
        self.progress.setVisible(bool(count))

    def _on_thumbnail(self, path: Path, thumbnail) -> None:
        self.progress.setValue(self.progress.value() + 1)
        self.browser.set_thumbnail(path, thumbnail)

    def _on_image_failed(self, path: Path, reason: str) -> None:
        self.progress.setValue(self.progress.value() + 1)
        self.browser.set_error(path, reason)

    def show_path(self, path: Path) -> None:
        """Show an image: from the session's cache at once, else decoded in the background."""
        if self.reading.session.cached(path) is None:
            self._set_status(f"Opening {self.reading.name_of(path)}…", busy=True)
        self.studies.show(path)

    def _on_wanted_image_failed(self, path: Path, message: str) -> None:
        self.reading.show_none()
        self.canvas.show_message(message)
        self.tag_view.set_dataset(None)
        self._set_status(message)

    def toggle_read(self) -> None:
        self.read_marker.toggle()

    def open_next_unread_flagged(self) -> None:
        path = self.reading.next_unread_flagged(self.worklist.paths())
        if path is None:
            self._set_status(NO_UNREAD_FLAGGED)
        else:
            self._open_from_worklist(path)

    def _open_from_worklist(self, path: Path) -> None:
        self.browser.select_path(path)
        if not self.reading.is_on_screen(path) and path != self.studies.wanted_path:
            self.show_path(path)

    # ------------------------------------------------------------ the AI second opinion

    def _connect_analysis(self) -> None:
        analysis = self.analysis
        analysis.modelLoading.connect(
            lambda: self.results_panel.show_message("Loading the AI model (first analysis only)…", busy=True))
        analysis.analysisStarted.connect(self._on_analysis_started)
        analysis.modelLoaded.connect(self._on_model_loaded)
        analysis.failed.connect(self._on_analysis_failed)
        session = self.reading.session
        analysis.worklistEntry.connect(lambda entry: self.worklist.add_entry(entry, session.is_read(entry.path),
                                                                             session.image_name(entry.path)))
        analysis.worklistFinished.connect(self.worklist.finish)
        analysis.message.connect(self._set_status)
        self.studies.scanFinished.connect(analysis.look_up)  # results waiting in the studies opened
        self.reading.maps_wanted.connect(analysis.request_maps)
        self.worklist.imageActivated.connect(self._open_from_worklist)
        self.worklist.analyseAllRequested.connect(self.analyse_all)
        self.worklist.cancelRequested.connect(analysis.cancel_worklist)

    def preload_model(self) -> None:
        """At launch, when analyses will follow: the model loads while the radiologist picks a study."""
        if self.reading.options["auto_analyse"]:
            self.analysis.preload()

    def _on_model_loaded(self, version: str) -> None:
        if self.reading.current is None:  # an image on screen already says what happens to it
            self.results_panel.show_message(f"{version} is ready. Open an image or a folder to analyse it.")

    def analyse_current(self) -> None:
        if self.reading.current is not None:
            self.analysis.request(self.reading.current)

    def _on_analysis_started(self, path: Path) -> None:
        if self.reading.is_on_screen(path):
            self.results_panel.show_message(f"Analysing {self.reading.name_of(path)}…", busy=True)

    def _on_analysis_failed(self, path: Path | None, message: str) -> None:
        if path is None or self.reading.is_on_screen(path):
            self.results_panel.show_message(message)
        self._set_status(message)

    def analyse_all(self) -> None:
        paths = self.reading.session.image_paths()
        if not paths:
            self._set_status("Open a folder first: the worklist analyses the images in the study browser.")
            return
        self.worklist.start(len(paths))
        self.worklist_dock.show()
        self.worklist_dock.raise_()
        self.analysis.analyse_paths(paths)

    # ------------------------------------------------------------ PACS

    def _connect_pacs(self) -> None:
        self.pacs.retrieveFinished.connect(self._on_retrieved)
        self.pacs.received.connect(self._on_received)
        self.pacs.listenerChanged.connect(self._on_listener_changed)
        self.pacs.listenerFailed.connect(
            lambda words: QMessageBox(QMessageBox.Warning, "Receive studies", words, parent=self).open())
        self.pacs.warned.connect(self._set_status)
        if self.reading.options["pacs_listener"]:  # off unless the reader left it on
            self.actions["listener"].setChecked(True)
            self.pacs.set_listening(True)

    def show_pacs_settings(self) -> None:
        dialog = PacsSettingsDialog(self.pacs, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()

    def show_pacs_query(self) -> None:
        if self.query_dialog is None:
            self.query_dialog = QueryDialog(self.pacs, self)
            self.query_dialog.settingsRequested.connect(self.show_pacs_settings)
        self.query_dialog.show()
        self.query_dialog.raise_()
        self.query_dialog.activateWindow()

    def send_results_to_pacs(self) -> None:
        """The worklist rows selected, else the image on screen."""
        paths, analyses = self.reading.results_to_send(self.worklist.paths(selected_only=True))
        if not paths:
            self._set_status("Send results: open and analyse an image, or select rows in the worklist, first.")
            return
        self.saved_reading.flush()  # the newest version goes
        dialog = SendResultsDialog(self.pacs, paths, analyses, self.reading.session.image_source(), self,
                                   reading_files=self.saved_reading.files_to_send,
                                   with_maps=self.reading.analyser.with_maps)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()

    def set_listening(self, listening: bool) -> None:
        self.reading.options.set("pacs_listener", listening)
        self.pacs.set_listening(listening)

    def _on_listener_changed(self, running: bool, words: str) -> None:
        self.actions["listener"].setChecked(running)
        self._set_status(words)

    def _on_retrieved(self, folders: list[Path], summary: str) -> None:
        self._set_status(summary)
        if folders:
            self.reading.retrieved(folders)
            self.studies.open_paths(folders, replace=False)

    def _on_received(self, folders: list[Path], count: int) -> None:
        self.studies.open_paths(folders, replace=False)
        self._set_status(f"Listener: received {count_words(count, 'object', 'objects')} "
                         f"({count_words(len(folders), 'study', 'studies')})")

    # ------------------------------------------------------------ the reader's work, kept

    def _connect_saved_reading(self) -> None:
        """Measurements, arrows and key-image marks are written to the local store as they change and put
        back when a scan finds their image (xraydesk.ui.saved_reading)."""
        self.studies.scanFinished.connect(self.saved_reading.look_up)
        self.saved_reading.message.connect(self._set_status)
        self.reading.session.key_image_changed.connect(self.browser.set_key_image)

    def mark_key_image(self) -> None:
        if self.reading.current is not None:
            self.saved_reading.mark_key_image(self.reading.current.path)

    # ------------------------------------------------------------ PDF summary

    def analyses_to_report(self, scope: str | None = None, include_refused: bool = False) -> list[ImageAnalysis]:
        """The analyses of `scope` (export_scope.SCOPES); by default the worklist rows selected, else
        every image analysed of the studies open, in analysis order."""
        return self.reading.analyses_to_report(scope, self.worklist.paths(selected_only=True), include_refused)

    def _choose_export_scope(self) -> tuple[str, bool] | None:
        if len(self.reading.analyses) == 1:  # nothing to choose between
            return "all", True
        dialog = ExportScopeDialog(self.reading.scope_counts(self.worklist.paths(selected_only=True)),
                                   self.reading.refused_count(), self)
        return dialog.choice() if dialog.exec_() == QDialog.Accepted else None

    def export_pdf(self) -> None:
        if not self.reading.analyses:
            QMessageBox.information(self, "Export PDF summary", "Nothing to export yet: analyse an image "
                                    "(Ctrl+Return) or a folder (Ctrl+Shift+Return) first.")
            return
        scope = self._choose_export_scope()
        analyses = self.analyses_to_report(*scope) if scope else []
        path = self._choose_pdf_path() if analyses else None
        if path is not None:
            self.write_pdf(path, analyses, overwrite=path.exists())

    def _choose_pdf_path(self) -> Path | None:
        """Where the reader wants the PDF (remembered for next time); None when cancelled or not to replace."""
        options = self.reading.options
        suggested = Path(options["export_folder"]) / f"xraydesk-summary-{datetime.datetime.now():%Y%m%d-%H%M}.pdf"
        chosen, _ = QFileDialog.getSaveFileName(self, "Export PDF summary", str(suggested), "PDF (*.pdf)",
                                                options=QFileDialog.DontConfirmOverwrite)
        if not chosen:
            return None
        path = Path(chosen) if chosen.lower().endswith(".pdf") else Path(chosen + ".pdf")
        if path.exists() and QMessageBox.question(self, "Export PDF summary", f"{path} already exists. Replace it?",
                                                  QMessageBox.Yes | QMessageBox.No, QMessageBox.No) != QMessageBox.Yes:
            return None
        options.set("export_folder", str(path.parent))
        return path

    def write_pdf(self, path: Path, analyses: list[ImageAnalysis], overwrite: bool = False) -> Worker:
        self._set_status(f"Writing {path.name}…", busy=True)
        worker = Worker(self.reading.report_job(path, analyses, overwrite))
        worker.yielded.connect(lambda progress: self._set_status(f"Writing {path.name}: page {progress[0]} of "
                                                                 f"{progress[1]}…", busy=True))
        worker.returned.connect(lambda result: self._set_status(f"Saved {result[0]} ({result[1]} pages)."))
        worker.errored.connect(self._on_pdf_failed)
        return self.workers.start(worker)

    def _on_pdf_failed(self, error: Exception) -> None:
        message = f"PDF summary not saved — {error}"
        self._set_status(message)
        QMessageBox(QMessageBox.Warning, "Export PDF summary", message, parent=self).open()

    # ------------------------------------------------------------ de-identified DICOM

    def export_deidentified_dicom(self) -> Worker | None:
        """The study browser's DICOM images, de-identified into a folder (xraydesk export --deidentify)."""
        paths = self.reading.session.image_paths()
        if not paths:
            QMessageBox.information(self, DEIDENTIFIED_EXPORT, "Open a folder first: the images in the "
                                    "study browser are exported.")
            return None
        options = self.reading.options
        folder = QFileDialog.getExistingDirectory(self, "Export de-identified DICOM into folder",
                                                  options["export_folder"])
        if not folder:
            return None
        options.set("export_folder", folder)
        return self.write_deidentified(paths, Path(folder))

    def write_deidentified(self, paths: list[Path], folder: Path) -> Worker:
        from xraydesk.commands.export import export_deidentified

        self._set_status(f"De-identifying into {folder}…", busy=True)
        worker = Worker(lambda report, should_stop: export_deidentified(
            paths, folder, lambda done, total: report((done, total)), should_stop))
        worker.yielded.connect(lambda progress: self._set_status(
            f"De-identifying into {folder}: image {progress[0]} of {progress[1]}…", busy=True))
        worker.returned.connect(self._on_deidentified)
        worker.errored.connect(self._on_deidentify_failed)
        return self.workers.start(worker)

    def _on_deidentified(self, summary) -> None:
        lines = summary.lines()
        self._set_status(f"De-identified export: {lines[0]}")
        if len(lines) > 1:  # files refused or skipped, images to look at
            QMessageBox(QMessageBox.Information, DEIDENTIFIED_EXPORT, "\n".join(lines), parent=self).open()

    def _on_deidentify_failed(self, error: Exception) -> None:
        message = f"De-identified export stopped — {error}"
        self._set_status(message)
        QMessageBox(QMessageBox.Warning, DEIDENTIFIED_EXPORT, message, parent=self).open()

    # ------------------------------------------------------------ compare with prior

    def _set_compare(self, compare: bool) -> None:
        """View ▸ Compare with prior (C): the canvas moves into the split view's right pane and back
        (takeCentralWidget keeps it alive), beside the hanging protocol's prior (StudySession.hanging_prior).
        With View ▸ Hang the prior on, the reading model turns it on when a study with a prior opens."""
        if compare and not self.reading.has_prior():
            self._set_status(NO_PRIOR)
            self.reading.options.set("compare", False)
        elif compare != (self.centralWidget() is self.compare_view):
            self.takeCentralWidget()
            if compare:
                self.compare_view.attach(self.canvas)
                self.setCentralWidget(self.compare_view)
                self.compare_view.set_current(self.reading.current)
            else:
                self.compare_view.detach()
                self.setCentralWidget(self.canvas)
            self.centralWidget().show()
            self.canvas.setFocus()

    # ------------------------------------------------------------ help, status, shutdown

    def shortcut_table(self) -> list[tuple[str, str]]:
        """(key, action) for every shortcut; also the source of Help ▸ Keyboard shortcuts."""
        return shortcut_rows(ACTIONS, self.actions)

    def show_shortcuts(self) -> None:
        dialog = ShortcutsDialog(self.key_bindings, self.actions, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()

    def set_film_dates(self) -> None:
        films = self.reading.session.plain_films()
        if not films:
            QMessageBox(QMessageBox.Information, "Dates of PNG/JPEG films", NO_PLAIN_FILMS, parent=self).open()
            return
        dates = {**default_film_dates(films, datetime.date.today()),  # dated before: as the reader left them
                 **{path: self.reading.session.entry(path).keys.study_date for path in films
                    if self.reading.session.entry(path).keys.study_date}}
        dialog = FilmDatesDialog(dates, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.reading.date_films(dialog.dates()))
        dialog.open()

    def edit_window_presets(self) -> None:
        dialog = PresetsDialog(self.reading.chest_presets, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()

    def about_text(self) -> str:
        return (f"XRayDesk {__version__}\nAI model: {self.reading.analyser.model_version()} (the model has its own "
                f"version: see its model card)\n\n{RESEARCH_USE_NOTICE}")

    def show_about(self) -> None:
        QMessageBox.about(self, "About XRayDesk", self.about_text())

    def _set_status(self, text: str, busy: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setToolTip(text)
        if busy and not self.progress.isVisible():
            self.progress.setRange(0, 0)
            self.progress.setVisible(True)
        elif not busy and self.progress.maximum() == 0:
            self.progress.setVisible(False)

    # The app quits without waiting for running work (run_app ends the process at once); tests join it.
    join_workers_on_close = True

    def closeEvent(self, event) -> None:
        self.saved_reading.flush()
        self.workers.shutdown(join=self.join_workers_on_close)
        self.pacs.shutdown()
        super().closeEvent(event)
