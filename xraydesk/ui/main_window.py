"""The main window: menus and shortcuts, the canvas, the study browser, the tag, AI results and
worklist docks, and the background scanning, decoding, analysis and PDF export that feed them."""

import datetime
from pathlib import Path

from PyQt5.QtCore import QSettings, Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QDialog,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from xraydesk import RESEARCH_USE_NOTICE, __version__
from xraydesk.ai.analysis import Analyser, ImageAnalysis
from xraydesk.ai.model import ModelUnavailableError
from xraydesk.ai.trend import ChangeLimits
from xraydesk.ai.words import is_flagged
from xraydesk.imaging import IMAGE, ImageDisplay, ScanEntry, ViewState, XRayImage
from xraydesk.imaging.session import StudySession
from xraydesk.jobs.report import write_report
from xraydesk.jobs.words import count_words
from xraydesk.ui.analysis_controller import AnalysisController, WorklistEntry
from xraydesk.ui.browser import StudyBrowser
from xraydesk.ui.canvas import KEY_ZOOM_STEP, ImageCanvas
from xraydesk.ui.compare import NO_PRIOR, CompareView
from xraydesk.ui.export_dialog import SCOPES, ExportScopeDialog, analyses_in_scope
from xraydesk.ui.measurements import MeasurementLayer, MeasurementPanel
from xraydesk.ui.overlays import HeatmapLayer, HeatmapSettings, ZoneLayer
from xraydesk.ui.pacs_controller import PacsController
from xraydesk.ui.pacs_dialogs import PacsSettingsDialog, QueryDialog, SendResultsDialog
from xraydesk.ui.results_panel import ResultsPanel
from xraydesk.ui.session_controller import SessionController
from xraydesk.ui.tag_view import DicomTagView
from xraydesk.ui.workers import Worker, WorkerPool
from xraydesk.ui.worklist import WorklistPanel

RECENT_LIMIT = 10
MESSAGE_LINES = 12
OPEN_FILTER = "Images (*.dcm *.dicom *.png *.jpg *.jpeg);;All files (*)"
NOT_ANALYSED = "Not analysed yet — Analysis ▸ Analyse image (Ctrl+Return)."


def settings() -> QSettings:
    return QSettings(QSettings.IniFormat, QSettings.UserScope, "XRayDesk", "XRayDesk")


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
        self.workers = WorkerPool(self)
        self.session = StudySession()
        self.canvas = ImageCanvas()
        self.setCentralWidget(self.canvas)
        self.analysis = AnalysisController(self.workers, analyser, parent=self)
        self.heatmap_layer, self.zone_layer = HeatmapLayer(), ZoneLayer()
        for layer in (self.heatmap_layer, self.zone_layer):
            self.canvas.add_overlay(layer)
        self.measurement_layer = MeasurementLayer(self.canvas, self.session.measurements)  # drawn on top
        self.shortcut_actions: list[QAction] = []
        self._build_menus()
        self.browser = StudyBrowser()
        self.tag_view = DicomTagView()
        self.results_panel = ResultsPanel(self.heatmap_action, self.zones_action)
        self.worklist = WorklistPanel()
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
            self.view_menu.addAction(dock.toggleViewAction())
        self.status_label = QLabel()
        self.view_label = QLabel()
        self.progress = QProgressBar(maximumWidth=200, visible=False)
        self.statusBar().addWidget(self.status_label, 1)
        self.cursor_label = QLabel()  # the modality value under the cursor
        self.statusBar().addPermanentWidget(self.cursor_label)
        self.statusBar().addPermanentWidget(self.view_label)
        self.statusBar().addPermanentWidget(self.progress)
        self.studies = SessionController(self.session, self.workers, parent=self)
        self._connect_studies()
        self._connect_analysis()
        self._connect_pacs()
        self.canvas.viewChanged.connect(self._on_view_changed)
        self.canvas.cursorValue.connect(self.cursor_label.setText)
        self.measurement_layer.message.connect(lambda text: text and self._set_status(text))
        self._build_compare()
        self._connect_trend()
        self.status_label.setText(RESEARCH_USE_NOTICE)

    def _add_dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # ------------------------------------------------------------ menus

    def _action(self, menu, text: str, slot, shortcut: str | None = None, checkable: bool = False) -> QAction:
        action = QAction(text, self, checkable=checkable)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            self.shortcut_actions.append(action)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        self._action(file_menu, "&Open files…", self.choose_files, "Ctrl+O")
        self._action(file_menu, "Open &folder…", self.choose_folder, "Ctrl+Shift+O")
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._rebuild_recent_menu()
        file_menu.addSeparator()
        self._action(file_menu, "&Export PDF summary…", self.export_pdf, "Ctrl+E")
        self.deidentify_action = self._setting_action(file_menu, "&De-identify PDF summaries", "deidentify_pdf")
        file_menu.addSeparator()
        self._build_pacs_menu(file_menu)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q")

        self.view_menu = view_menu = menus.addMenu("&View")
        self._action(view_menu, "&Fit to window", self.canvas.fit, "F")
        self._action(view_menu, "&Actual pixels (1:1)", lambda: self.canvas.zoom_to(1.0), "1")
        self._action(view_menu, "Zoom &in", lambda: self.canvas.zoom_by(KEY_ZOOM_STEP), "+")
        self._action(view_menu, "Zoom &out", lambda: self.canvas.zoom_by(1 / KEY_ZOOM_STEP), "-")
        view_menu.addSeparator()
        self._action(view_menu, "&Next image", lambda: self.browser.select_relative(1), "PgDown")
        self._action(view_menu, "&Previous image", lambda: self.browser.select_relative(-1), "PgUp")
        self._action(view_menu, "Next &unread flagged image", self.open_next_unread_flagged, "N")
        self._action(view_menu, "&Mark image read / unread", self.toggle_read, "M")
        view_menu.addSeparator()
        self.hide_patient_action = self._action(view_menu, "&Hide patient data", self.hide_patient_data, "D", True)

        image_menu = menus.addMenu("&Image")
        self._action(image_menu, "&Header window (repeat: next)", self.next_header_window, "2")
        self._action(image_menu, "&Auto window (percentiles)", lambda: self._preset("auto_window"), "3")
        self._action(image_menu, "F&ull range", lambda: self._preset("full_range_window"), "4")
        self._action(image_menu, "&Lung window", lambda: self._preset("lung_window"), "5")
        self.invert_action = self._action(image_menu, "&Invert", self.canvas.set_invert, "I", checkable=True)
        self._action(image_menu, "&Reset window, zoom and invert", self.reset_view, "R")
        image_menu.addSeparator()
        # Display only: the file is never changed and the AI sees the image as stored.
        self._action(image_menu, "Rotate 90° clock&wise", lambda: self.canvas.rotate(1), "]")
        self._action(image_menu, "Rotate 90° counter-clock&wise", lambda: self.canvas.rotate(-1), "[")
        self._action(image_menu, "Flip &horizontal", lambda: self.canvas.flip(True), "Alt+H")
        self._action(image_menu, "Flip &vertical", lambda: self.canvas.flip(False), "Alt+V")
        image_menu.addSeparator()
        mouse_group = QActionGroup(self)
        self.pan_mode_action = self._action(image_menu, "Left button &pans", lambda: self._set_left_windows(False),
                                            "P", True)
        self.window_mode_action = self._action(image_menu, "Left button &windows (W/L mode)",
                                               lambda: self._set_left_windows(True), "W", True)
        for action in (self.pan_mode_action, self.window_mode_action):
            mouse_group.addAction(action)
        self.pan_mode_action.setChecked(True)

        self._build_measure_menu(menus.addMenu("&Measure"))

        analysis_menu = menus.addMenu("&Analysis")
        self._action(analysis_menu, "&Analyse image", self.analyse_current, "Ctrl+Return")
        self.auto_analyse_action = self._setting_action(analysis_menu, "Analyse automatically on &open", "auto_analyse")
        analysis_menu.addSeparator()
        self.heatmap_action = self._action(analysis_menu, "&Heatmap overlay", lambda: None, "H", True)
        self.zones_action = self._action(analysis_menu, "&Zones and lung outline", lambda: None, "Z", True)
        for action, layer in ((self.heatmap_action, self.heatmap_layer), (self.zones_action, self.zone_layer)):
            action.setChecked(True)
            action.toggled.connect(lambda shown, layer=layer: self._set_layer_visible(layer, shown))
        analysis_menu.addSeparator()
        self._action(analysis_menu, "Analyse all images (&worklist)", self.analyse_all, "Ctrl+Shift+Return")
        self._action(analysis_menu, "&Cancel worklist", self.analysis.cancel_worklist)

        help_menu = menus.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(help_menu, "&About XRayDesk", self.show_about)

    def _build_measure_menu(self, menu) -> None:
        """Ruler, angle and cardiothoracic ratio: checkable tools, one at a time (Esc cancels)."""
        tools = {}
        for mode, text, key in (("ruler", "&Ruler", "L"), ("angle", "&Angle", "A"),
                                ("ctr", "&Cardiothoracic ratio", "T")):
            tools[mode] = self._action(menu, text, lambda on, mode=mode: self.measurement_layer.set_mode(
                mode if on else "navigate"), key, True)
        self.measurement_layer.modeChanged.connect(
            lambda current: [action.setChecked(mode == current) for mode, action in tools.items()])

    def _setting_action(self, menu, text: str, key: str) -> QAction:
        """A checkable option remembered between sessions (on by default)."""
        action = self._action(menu, text, lambda checked: settings().setValue(key, checked), checkable=True)
        action.setChecked(settings().value(key, True, type=bool))
        return action

    def shortcut_table(self) -> list[tuple[str, str]]:
        """(key, action) for every shortcut; also the source of Help ▸ Keyboard shortcuts."""
        rows = [(a.shortcut().toString(), a.text().replace("&", "")) for a in self.shortcut_actions]
        return rows + [
            ("Right drag", "Window/level (left drag too in W/L mode)"),
            ("Middle drag", "Pan"),
            ("Esc", "Cancel the measurement being made; leave compare mode"),
            ("Wheel", "Zoom around the cursor"),
        ]

    def show_shortcuts(self) -> None:
        dialog = QDialog(self, windowTitle="Keyboard shortcuts")
        table = QTableWidget(0, 2, dialog)
        table.setHorizontalHeaderLabels(["Key", "Action"])
        table.verticalHeader().hide()
        for key, text in self.shortcut_table():
            row = table.rowCount()
            table.insertRow(row)
            table.setItem(row, 0, QTableWidgetItem(key))
            table.setItem(row, 1, QTableWidgetItem(text))
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        QVBoxLayout(dialog).addWidget(table)
        dialog.resize(480, 560)
        dialog.open()

    def show_about(self) -> None:
        QMessageBox.about(self, "About XRayDesk", f"XRayDesk {__version__}\n\n{RESEARCH_USE_NOTICE}")

    # ------------------------------------------------------------ opening

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images", "", OPEN_FILTER)
        if paths:
            self.open_paths(paths)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder")
        if folder:
            self.open_paths([folder])

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)

    def open_paths(self, paths) -> None:
        """Scan files/folders in the background; the first image shows as soon as it is decoded."""
        paths = [Path(path) for path in paths]
        self._remember_recent(paths)
        self.studies.open_paths(paths)

    def _connect_studies(self) -> None:
        session, studies = self.session, self.studies
        session.cleared.connect(self.browser.clear)
        session.entry_added.connect(self.browser.add_entry)
        session.entry_added.connect(self._show_first_image)
        session.read_changed.connect(self.worklist.set_read)
        studies.scanStarted.connect(lambda what: self._set_status(f"Scanning {what}…", busy=True))
        studies.scanProgress.connect(lambda count: self._set_status(f"Scanning… {count} images", busy=True))
        studies.scanFinished.connect(self._on_scan_done)
        studies.scanFailed.connect(self._set_status)
        studies.thumbnailsStarted.connect(self._on_thumbnails_started)
        studies.thumbnailReady.connect(self._on_thumbnail)
        studies.thumbnailsDone.connect(lambda: self.progress.setVisible(False))
        studies.imageFailed.connect(self._on_image_failed)
        studies.previewReady.connect(self.canvas.show_preview)  # pixels only: tags, status and AI wait for the image
        studies.imageReady.connect(self._show_display)
        studies.wantedImageFailed.connect(self._on_wanted_image_failed)
        self.browser.imageSelected.connect(self.show_path)

    def _show_first_image(self, entry: ScanEntry) -> None:
        if entry.kind == IMAGE and self.studies.wanted_path is None:
            self.browser.select_path(entry.path)

    def _on_scan_done(self, entries: list[ScanEntry]) -> None:
        summary = self.session.summary()
        # The dock keeps the count: the status line moves on to the image shown.
        self.browser_dock.setWindowTitle(f"Studies — {summary}")
        skipped = self.session.skipped()
        self._set_status(f"{summary} ({self.browser.skipped_summary()})" if skipped else summary)
        if self.studies.wanted_path is not None:  # sorted in, the shown image stays selected and in sight
            self.browser.select_path(self.studies.wanted_path)
        elif skipped:
            reasons = [f"{entry.path.name}: {entry.reason}" for entry in skipped[:MESSAGE_LINES]]
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
        if self.session.cached(path) is None:
            self._set_status(f"Opening {self._name_of(path)}…", busy=True)
        self.studies.show(path)

    def _on_wanted_image_failed(self, path: Path, message: str) -> None:
        self.canvas.show_message(message)
        self.tag_view.set_dataset(None)
        self._set_status(message)

    def open_next_unread_flagged(self) -> None:
        """In the worklist's order (priority by default): the first flagged image not yet read."""
        results = self.analysis.results
        for path in self.worklist.paths():
            if path in results and is_flagged(results[path]) and not self.session.is_read(path):
                self._open_from_worklist(path)
                return
        self._set_status("No unread flagged image: analyse a folder (Ctrl+Shift+Return), or all are read.")

    def toggle_read(self) -> None:
        if self.canvas.image is not None:
            path = self.canvas.image.path
            self.session.set_read(path, not self.session.is_read(path))

    def _show_display(self, display: ImageDisplay) -> None:
        image = display.image
        self.session.set_read(image.path)  # opened is read; M takes it back
        self.canvas.set_image(image, display)
        self.invert_action.setChecked(self.canvas.view.invert)  # an invert made on the preview is kept
        self.tag_view.set_dataset(image.dataset)
        notices = " ".join(image.notices)
        size = f"{image.width} x {image.height}, {image.bits_stored}-bit"
        self._set_status(f"{self._name_of(image.path)}  {size}  {notices}")
        self._show_analysis_of(image)

    def _name_of(self, path: Path) -> str:
        """A file's name, or 'the image' while patient data is hidden (file names are often patient IDs)."""
        return "the image" if self.hide_patient_action.isChecked() else path.name

    def hide_patient_data(self, hide: bool) -> None:
        """For screenshots and teaching: corners, browser, tag view and worklist lose names, IDs and dates."""
        for view in (self.canvas, self.browser, self.tag_view, self.worklist, self.results_panel):
            view.set_show_patient_data(not hide)

    # ------------------------------------------------------------ the AI second opinion

    def _connect_analysis(self) -> None:
        self.analysis.modelLoading.connect(
            lambda: self.results_panel.show_message("Loading the AI model (first analysis only)…", busy=True))
        self.analysis.analysisStarted.connect(self._on_analysis_started)
        self.analysis.analysed.connect(self._on_analysed)
        self.analysis.modelLoaded.connect(self._on_model_loaded)
        self.analysis.failed.connect(self._on_analysis_failed)
        self.analysis.worklistEntry.connect(self._on_worklist_entry)
        self.analysis.worklistFinished.connect(self.worklist.finish)
        self.results_panel.heatmapSettingsChanged.connect(self._set_heatmap_settings)
        self.worklist.imageActivated.connect(self._open_from_worklist)
        self.worklist.analyseAllRequested.connect(self.analyse_all)
        self.worklist.cancelRequested.connect(self.analysis.cancel_worklist)

    def _is_on_screen(self, path: Path) -> bool:
        return self.canvas.image is not None and self.canvas.image.path == path

    def _show_analysis_of(self, image: XRayImage) -> None:
        analysis = self.analysis.results.get(image.path)
        self._set_overlay_analysis(analysis)
        if analysis is not None:
            self.results_panel.show_analysis(analysis)
        elif self.auto_analyse_action.isChecked():
            self.results_panel.show_message(f"Analysing {self._name_of(image.path)}…", busy=True)
            self.analysis.request(image)
        else:
            self.results_panel.show_message(NOT_ANALYSED)

    def preload_model(self) -> None:
        """At launch, when analyses will follow: the model loads while the radiologist picks a study."""
        if self.auto_analyse_action.isChecked():
            self.analysis.preload()

    def _on_model_loaded(self, version: str) -> None:
        if self.canvas.image is None:  # an image on screen already says what happens to it
            self.results_panel.show_message(f"{version} is ready. Open an image or a folder to analyse it.")

    def analyse_current(self) -> None:
        if self.canvas.image is not None:
            self.analysis.request(self.canvas.image)

    def _on_analysis_started(self, path: Path) -> None:
        if self._is_on_screen(path):
            self.results_panel.show_message(f"Analysing {self._name_of(path)}…", busy=True)

    def _on_analysed(self, analysis: ImageAnalysis) -> None:
        if self._is_on_screen(analysis.path):  # a result for an image left behind stays in the cache only
            self._set_overlay_analysis(analysis)
            self.results_panel.show_analysis(analysis)

    def _on_analysis_failed(self, path: Path | None, message: str) -> None:
        if path is None or self._is_on_screen(path):
            self.results_panel.show_message(message)
        self._set_status(message)

    def _set_overlay_analysis(self, analysis: ImageAnalysis | None) -> None:
        for layer in (self.heatmap_layer, self.zone_layer, self.measurement_layer):
            layer.set_analysis(analysis)
        self.canvas.update()

    def _set_heatmap_settings(self, heatmap_settings: HeatmapSettings) -> None:
        self.heatmap_layer.settings = heatmap_settings
        self.canvas.update()

    def _set_layer_visible(self, layer, shown: bool) -> None:
        layer.visible = shown
        self.canvas.update()

    def analyse_all(self) -> None:
        paths = self.session.image_paths()
        if not paths:
            self._set_status("Open a folder first: the worklist analyses the images in the study browser.")
            return
        self.worklist.start(len(paths))
        self.worklist_dock.show()
        self.worklist_dock.raise_()
        self.analysis.analyse_paths(paths)

    def _on_worklist_entry(self, entry: WorklistEntry) -> None:
        self.worklist.add_entry(entry, self.session.is_read(entry.path))
        if entry.analysis is not None:
            self._on_analysed(entry.analysis)

    def _open_from_worklist(self, path: Path) -> None:
        self.browser.select_path(path)
        if not self._is_on_screen(path) and path != self.studies.wanted_path:
            self.show_path(path)

    # ------------------------------------------------------------ PACS

    def _build_pacs_menu(self, file_menu) -> None:
        pacs_menu = file_menu.addMenu("&PACS")
        self._action(pacs_menu, "&Query / Retrieve…", self.show_pacs_query, "Ctrl+Shift+F")
        self._action(pacs_menu, "&Send results…", self.send_results_to_pacs)
        self.listener_action = self._action(pacs_menu, "&Receive studies (listener)", self.set_listening,
                                            checkable=True)
        pacs_menu.addSeparator()
        self._action(pacs_menu, "S&ettings…", self.show_pacs_settings)

    def _connect_pacs(self) -> None:
        self.pacs = PacsController(self.workers, parent=self)
        self.query_dialog: QueryDialog | None = None
        self._retrieved_to_show: Path | None = None  # its first image opens once the scan has sorted it in
        self.pacs.retrieveFinished.connect(self._on_retrieved)
        self.pacs.received.connect(self._on_received)
        self.pacs.listenerChanged.connect(self._on_listener_changed)
        self.pacs.listenerFailed.connect(
            lambda words: QMessageBox(QMessageBox.Warning, "Receive studies", words, parent=self).open())
        self.pacs.warned.connect(self._set_status)
        self.studies.scanFinished.connect(self._show_retrieved)
        if settings().value("pacs_listener", False, type=bool):  # off unless the user turned it on
            self.listener_action.setChecked(True)
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
        paths = self.worklist.paths(selected_only=True) or ([self.canvas.image.path] if self.canvas.image else [])
        if not paths:
            self._set_status("Send results: open and analyse an image, or select rows in the worklist, first.")
            return
        dialog = SendResultsDialog(self.pacs, paths, dict(self.analysis.results), self.session.image_source(), self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()

    def set_listening(self, listening: bool) -> None:
        settings().setValue("pacs_listener", listening)
        self.pacs.set_listening(listening)

    def _on_listener_changed(self, running: bool, words: str) -> None:
        self.listener_action.setChecked(running)
        self._set_status(words)

    def _on_retrieved(self, folders: list[Path], summary: str) -> None:
        self._set_status(summary)
        if folders:
            self._retrieved_to_show = folders[0]
            self.studies.open_paths(folders, replace=False)

    def _show_retrieved(self, _entries) -> None:
        folder, self._retrieved_to_show = self._retrieved_to_show, None
        if folder is not None:
            first = next((path for path in self.session.image_paths() if folder in path.parents), None)
            if first is not None:
                self.browser.select_path(first)

    def _on_received(self, folders: list[Path], count: int) -> None:
        self.studies.open_paths(folders, replace=False)
        self._set_status(f"Listener: received {count_words(count, 'object', 'objects')} "
                         f"({count_words(len(folders), 'study', 'studies')})")

    # ------------------------------------------------------------ PDF summary

    def analyses_to_report(self, scope: str | None = None, include_refused: bool = False) -> list[ImageAnalysis]:
        """The analyses of `scope` (export_dialog.SCOPES); by default the worklist rows selected, else
        every image analysed in this session, in analysis order."""
        selected = self.worklist.paths(selected_only=True)
        scope = scope or ("selection" if selected else "all")
        current = self.canvas.image.path if self.canvas.image else None
        return analyses_in_scope(scope, self.analysis.results, current, selected, include_refused)

    def _choose_export_scope(self) -> tuple[str, bool] | None:
        results = self.analysis.results
        if len(results) == 1:  # nothing to choose between
            return "all", True
        current = self.canvas.image.path if self.canvas.image else None
        selected = self.worklist.paths(selected_only=True)
        counts = {scope: len(analyses_in_scope(scope, results, current, selected)) for scope in SCOPES}
        refused = sum(analysis.prediction is None for analysis in results.values())
        dialog = ExportScopeDialog(counts, refused, self)
        return dialog.choice() if dialog.exec_() == QDialog.Accepted else None

    def export_pdf(self) -> None:
        if not self.analysis.results:
            QMessageBox.information(self, "Export PDF summary", "Nothing to export yet: analyse an image "
                                    "(Ctrl+Return) or a folder (Ctrl+Shift+Return) first.")
            return
        scope = self._choose_export_scope()
        analyses = self.analyses_to_report(*scope) if scope else []
        if not analyses:
            return
        folder = settings().value("export_folder", str(Path.home()))
        suggested = Path(folder) / f"xraydesk-summary-{datetime.datetime.now():%Y%m%d-%H%M}.pdf"
        chosen, _ = QFileDialog.getSaveFileName(self, "Export PDF summary", str(suggested), "PDF (*.pdf)",
                                                options=QFileDialog.DontConfirmOverwrite)
        if not chosen:
            return
        path = Path(chosen) if chosen.lower().endswith(".pdf") else Path(chosen + ".pdf")
        overwrite = path.exists()
        if overwrite and QMessageBox.question(self, "Export PDF summary", f"{path} already exists. Replace it?",
                                              QMessageBox.Yes | QMessageBox.No, QMessageBox.No) != QMessageBox.Yes:
            return
        settings().setValue("export_folder", str(path.parent))
        self.write_pdf(path, analyses, overwrite)

    def write_pdf(self, path: Path, analyses: list[ImageAnalysis], overwrite: bool = False) -> Worker:
        self._set_status(f"Writing {path.name}…", busy=True)
        views = {self.canvas.image.path: self.canvas.view} if self.canvas.image else {}
        measurements = {analysis.path: tuple(self.session.measurements.for_image(analysis.path))
                        for analysis in analyses}  # as they are now: the reader may go on measuring

        def limits() -> ChangeLimits:  # read only when some patient has a trend page, in the worker
            return ChangeLimits.from_metadata(self.analysis.analyser.model().metadata)

        image_for, target, deidentify = self.session.image_source(), self.heatmap_layer.settings.target, \
            self.deidentify_action.isChecked()
        worker = Worker(lambda report, should_stop: write_report(path, analyses, image_for, limits, target, views,
                                                                 measurements.get, deidentify, overwrite, report))
        worker.yielded.connect(lambda progress: self._set_status(f"Writing {path.name}: page {progress[0]} of "
                                                                 f"{progress[1]}…", busy=True))
        worker.returned.connect(lambda result: self._set_status(f"Saved {result[0]} ({result[1]} pages)."))
        worker.errored.connect(self._on_pdf_failed)
        return self.workers.start(worker)

    def _on_pdf_failed(self, error: Exception) -> None:
        message = f"PDF summary not saved — {error}"
        self._set_status(message)
        QMessageBox(QMessageBox.Warning, "Export PDF summary", message, parent=self).open()

    # ------------------------------------------------------------ windowing

    def _preset(self, name: str) -> None:
        if self.canvas.display:
            self.canvas.set_window(getattr(self.canvas.display, name)())

    def next_header_window(self) -> None:
        """Header windows in turn; images without one get their default window."""
        display = self.canvas.display
        if not display:
            return
        windows = display.image.header_windows or [display.default_window()]
        current = self.canvas.view.window
        index = (windows.index(current) + 1) % len(windows) if current in windows else 0
        self.canvas.set_window(windows[index])

    def reset_view(self) -> None:
        self.canvas.reset_view()
        self.invert_action.setChecked(False)

    def _set_left_windows(self, enabled: bool) -> None:
        self.canvas.left_button_windows = enabled

    def _on_view_changed(self, view) -> None:
        window = view.window
        self.view_label.setText(f"WC {window.center:.0f}  WW {window.width:.0f}  Zoom {view.zoom_percent:.0f}%")

    # ------------------------------------------------------------ compare with prior

    def _build_compare(self) -> None:
        """View ▸ Compare with prior (C): the patient's most recent earlier study beside the current image."""
        self.view_menu.addSeparator()
        self.compare_action = self._action(self.view_menu, "&Compare with prior", self.set_compare, "C", True)
        self.link_views_action = self._action(self.view_menu, "&Link views (compare)", lambda: None, checkable=True)
        self.link_views_action.setChecked(True)
        self.compare_view = CompareView((self.heatmap_layer, self.zone_layer), self.session, self.studies.decode_for,
                                        self.analysis.results, self.link_views_action)
        self.compare_view.leaveRequested.connect(self.compare_action.trigger)
        self.compare_view.analyseRequested.connect(self.analysis.request)
        self.studies.imageReady.connect(self._compare_current)
        self.analysis.analysed.connect(self.compare_view.show_analysis)
        self.analysis.worklistEntry.connect(lambda entry: self.compare_view.show_analysis(entry.analysis))
        for signal in (self.heatmap_action.toggled, self.zones_action.toggled, self.hide_patient_action.triggered,
                       self.pan_mode_action.triggered, self.window_mode_action.triggered,
                       self.results_panel.heatmapSettingsChanged):  # each after the window's own slot
            signal.connect(self.compare_view.follow_current)

    def set_compare(self, compare: bool) -> None:
        """The canvas moves into the split view's right pane and back (takeCentralWidget keeps it alive)."""
        if not compare:
            self.takeCentralWidget()
            self.compare_view.detach()
            self.setCentralWidget(self.canvas)
            self.canvas.show()
            return
        if self.canvas.image is None or not self.session.prior_studies(self.canvas.image.path):
            self.compare_action.setChecked(False)
            self._set_status(NO_PRIOR)
            return
        self.takeCentralWidget()
        self.compare_view.attach(self.canvas)
        self.setCentralWidget(self.compare_view)
        self.compare_view.show()
        self.compare_view.set_current(self.canvas.image)
        self.canvas.setFocus()

    def _compare_current(self, display: ImageDisplay) -> None:
        if self.compare_action.isChecked():
            self.compare_view.set_current(display.image)

    # ------------------------------------------------------------ severity trend (results dock)

    def _connect_trend(self) -> None:
        self._trend_limits: ChangeLimits | None = None
        for signal in (self.studies.imageReady, self.analysis.analysed, self.analysis.worklistEntry,
                       self.hide_patient_action.toggled):
            signal.connect(self._refresh_trend)

    def _refresh_trend(self, *_ignored) -> None:
        """The trend of the image on screen once it is analysed (the dock then shows its results)."""
        image = self.canvas.image
        analysis = self.analysis.results.get(image.path) if image is not None else None
        if analysis is not None and analysis.prediction is not None:
            self.results_panel.show_trend(self.analysis.results.values(), image.path, self._change_limits,
                                          deidentify=self.hide_patient_action.isChecked())

    def _change_limits(self) -> ChangeLimits | str:
        """The model's "no clear change" limits (read once), or why there are none."""
        if self._trend_limits is None:
            if not self.analysis.analyser.is_loaded:
                return "the model is not loaded"
            try:
                self._trend_limits = ChangeLimits.from_metadata(self.analysis.analyser.model().metadata)
            except ModelUnavailableError as error:
                return str(error)
        return self._trend_limits

    # ------------------------------------------------------------ status, recent files, shutdown

    def _set_status(self, text: str, busy: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setToolTip(text)
        if busy and not self.progress.isVisible():
            self.progress.setRange(0, 0)
            self.progress.setVisible(True)
        elif not busy and self.progress.maximum() == 0:
            self.progress.setVisible(False)

    def _remember_recent(self, paths: list[Path]) -> None:
        store = settings()
        recent = [str(path.resolve()) for path in paths]
        recent += [entry for entry in store.value("recent", [], type=list) if entry not in recent]
        store.setValue("recent", recent[:RECENT_LIMIT])
        self._rebuild_recent_menu()

    def recent_paths(self) -> list[str]:
        return settings().value("recent", [], type=list)

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for entry in self.recent_paths():
            action = self.recent_menu.addAction(entry)
            action.triggered.connect(lambda _checked, entry=entry: self.open_paths([entry]))
        self.recent_menu.setEnabled(bool(self.recent_paths()))

    # The app quits without waiting for running work (run_app ends the process at once); tests join it.
    join_workers_on_close = True

    def closeEvent(self, event) -> None:
        self.workers.shutdown(join=self.join_workers_on_close)
        self.pacs.shutdown()
        super().closeEvent(event)
