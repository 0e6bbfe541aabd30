"""The main window: menus and shortcuts, the canvas, the study browser, tag and results docks,
and the background scanning/decoding that feeds them."""

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image
from PyQt5.QtCore import QSettings, Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QDialog,
    QDockWidget,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from xraydesk import RESEARCH_USE_NOTICE, __version__
from xraydesk.imaging import IMAGE, ImageLoadError, ScanEntry, XRayImage, load_image, render_default, scan_paths
from xraydesk.ui.browser import THUMBNAIL_SIZE, StudyBrowser
from xraydesk.ui.canvas import KEY_ZOOM_STEP, ImageCanvas
from xraydesk.ui.tag_view import DicomTagView
from xraydesk.ui.workers import Worker, WorkerPool

RECENT_LIMIT = 10
IMAGE_CACHE_SIZE = 4
MESSAGE_LINES = 12
OPEN_FILTER = "Images (*.dcm *.dicom *.png *.jpg *.jpeg);;All files (*)"


def settings() -> QSettings:
    return QSettings(QSettings.IniFormat, QSettings.UserScope, "XRayDesk", "XRayDesk")


def make_thumbnail(image: XRayImage) -> np.ndarray:
    picture = Image.fromarray(render_default(image))
    picture.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    return np.asarray(picture)


def thumbnail_task(paths: list[Path]):
    """Decodes each image for its thumbnail; reports (path, thumbnail, image) or (path, error, None)."""

    def run(report, should_stop):
        for path in paths:
            if should_stop():
                return
            try:
                image = load_image(path)
                report((path, make_thumbnail(image), image))
            except ImageLoadError as error:
                report((path, error, None))

    return run


class MainWindow(QMainWindow):
    def __init__(self):
        super().__init__()
        self.setWindowTitle("XRayDesk — research use only")
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.workers = WorkerPool(self)
        self.canvas = ImageCanvas()
        self.setCentralWidget(self.canvas)
        self.browser = StudyBrowser()
        self.tag_view = DicomTagView()
        self.browser_dock = self._add_dock("Studies", self.browser, Qt.LeftDockWidgetArea)
        self.tags_dock = self._add_dock("DICOM tags", self.tag_view, Qt.RightDockWidgetArea)
        self.results_dock = self._add_dock("AI results", QLabel("No AI results yet."), Qt.RightDockWidgetArea)
        self.tabifyDockWidget(self.tags_dock, self.results_dock)
        self.tags_dock.raise_()
        self.resizeDocks([self.browser_dock, self.tags_dock], [320, 440], Qt.Horizontal)
        self.status_label = QLabel()
        self.view_label = QLabel()
        self.progress = QProgressBar(maximumWidth=200, visible=False)
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.view_label)
        self.statusBar().addPermanentWidget(self.progress)
        self._image_cache: OrderedDict[Path, XRayImage] = OrderedDict()
        self._wanted_path: Path | None = None
        self._scan_worker: Worker | None = None
        self._thumbnail_worker: Worker | None = None
        self._scanned: list[ScanEntry] = []
        self.shortcut_actions: list[QAction] = []
        self._build_menus()
        self.browser.imageSelected.connect(self.show_path)
        self.canvas.viewChanged.connect(self._on_view_changed)
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
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q")

        view_menu = menus.addMenu("&View")
        self._action(view_menu, "&Fit to window", self.canvas.fit, "F")
        self._action(view_menu, "&Actual pixels (1:1)", lambda: self.canvas.zoom_to(1.0), "1")
        self._action(view_menu, "Zoom &in", lambda: self.canvas.zoom_by(KEY_ZOOM_STEP), "+")
        self._action(view_menu, "Zoom &out", lambda: self.canvas.zoom_by(1 / KEY_ZOOM_STEP), "-")
        view_menu.addSeparator()
        self._action(view_menu, "&Next image", lambda: self.browser.select_relative(1), "PgDown")
        self._action(view_menu, "&Previous image", lambda: self.browser.select_relative(-1), "PgUp")
        view_menu.addSeparator()
        self.hide_patient_action = self._action(view_menu, "&Hide patient data", self.hide_patient_data, "D", True)
        for dock in (self.browser_dock, self.tags_dock, self.results_dock):
            view_menu.addAction(dock.toggleViewAction())

        image_menu = menus.addMenu("&Image")
        self._action(image_menu, "&Header window (repeat: next)", self.next_header_window, "2")
        self._action(image_menu, "&Auto window (percentiles)", lambda: self._preset("auto_window"), "3")
        self._action(image_menu, "F&ull range", lambda: self._preset("full_range_window"), "4")
        self._action(image_menu, "&Lung window", lambda: self._preset("lung_window"), "5")
        self.invert_action = self._action(image_menu, "&Invert", self.canvas.set_invert, "I", checkable=True)
        self._action(image_menu, "&Reset window, zoom and invert", self.reset_view, "R")
        image_menu.addSeparator()
        mouse_group = QActionGroup(self)
        self.pan_mode_action = self._action(image_menu, "Left button &pans", lambda: self._set_left_windows(False), "P", True)
        self.window_mode_action = self._action(image_menu, "Left button &windows (W/L mode)", lambda: self._set_left_windows(True), "W", True)
        for action in (self.pan_mode_action, self.window_mode_action):
            mouse_group.addAction(action)
        self.pan_mode_action.setChecked(True)

        help_menu = menus.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(help_menu, "&About XRayDesk", self.show_about)

    def shortcut_table(self) -> list[tuple[str, str]]:
        """(key, action) for every shortcut; also the source of Help ▸ Keyboard shortcuts."""
        rows = [(a.shortcut().toString(), a.text().replace("&", "")) for a in self.shortcut_actions]
        return rows + [
            ("Right drag", "Window/level (left drag too in W/L mode)"),
            ("Middle drag", "Pan"),
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
        for worker in (self._scan_worker, self._thumbnail_worker):
            if worker is not None:
                self.workers.stop(worker)
        self.browser.clear()
        self._scanned = []
        self._wanted_path = None
        self._set_status(f"Scanning {', '.join(path.name for path in paths)}…", busy=True)
        worker = Worker(lambda report, should_stop: scan_paths(paths, report, should_stop))
        worker.yielded.connect(lambda entry: self._on_scanned(worker, entry))
        worker.returned.connect(lambda entries: self._on_scan_done(worker, entries))
        worker.errored.connect(lambda error: self._set_status(f"Scan failed: {error}"))
        self._scan_worker = self.workers.start(worker)

    def _on_scanned(self, worker: Worker, entry: ScanEntry) -> None:
        if worker is not self._scan_worker:
            return
        self._scanned.append(entry)
        self.browser.add_entry(entry)
        self._set_status(f"Scanning… {len(self._scanned)} files", busy=True)
        if entry.kind == IMAGE and self._wanted_path is None:
            self.browser.select_path(entry.path)

    def _on_scan_done(self, worker: Worker, entries: list[ScanEntry]) -> None:
        if worker is not self._scan_worker:
            return
        images = [entry.path for entry in entries if entry.kind == IMAGE]
        skipped = len(entries) - len(images)
        summary = f"{len(images)} images"
        if skipped:
            summary += f", {skipped} skipped ({self.browser.skipped_summary()})"
        self._set_status(summary)
        if not images:
            reasons = [f"{entry.path.name}: {entry.reason}" for entry in entries[:MESSAGE_LINES]]
            self.canvas.show_message("\n".join(["No image to show.", *reasons]))
            self.tag_view.set_dataset(None)
        self._start_thumbnails(images)

    def _start_thumbnails(self, paths: list[Path]) -> None:
        self.progress.setRange(0, max(len(paths), 1))
        self.progress.setValue(0)
        self.progress.setVisible(bool(paths))
        worker = Worker(thumbnail_task(paths))
        worker.yielded.connect(lambda result: self._on_thumbnail(worker, result))
        worker.finished.connect(lambda: self.progress.setVisible(False) if worker is self._thumbnail_worker else None)
        self._thumbnail_worker = self.workers.start(worker)

    def _on_thumbnail(self, worker: Worker, result) -> None:
        if worker is not self._thumbnail_worker:
            return
        path, thumbnail_or_error, image = result
        self.progress.setValue(self.progress.value() + 1)
        if image is None:
            self.browser.set_error(path, thumbnail_or_error.reason)
            return
        self.browser.set_thumbnail(path, thumbnail_or_error)
        self._cache(image)
        if path == self._wanted_path and self.canvas.image is None:
            self._show_image(image)

    def show_path(self, path: Path) -> None:
        """Show an image: from the cache at once, else decoded in the background."""
        self._wanted_path = path
        if path in self._image_cache:
            self._image_cache.move_to_end(path)
            self._show_image(self._image_cache[path])
            return
        self._set_status(f"Opening {path.name}…", busy=True)
        worker = Worker(lambda report, should_stop: load_image(path))
        worker.returned.connect(self._on_loaded)
        worker.errored.connect(self._on_load_error)
        self.workers.start(worker)

    def _on_loaded(self, image: XRayImage) -> None:
        self._cache(image)
        if image.path == self._wanted_path:
            self._show_image(image)

    def _on_load_error(self, error: Exception) -> None:
        path = getattr(error, "path", None)
        if path == self._wanted_path:
            self.canvas.show_message(f"Cannot open {error}")
            self.tag_view.set_dataset(None)
            self._set_status(f"Cannot open {error}")
        if path is not None:
            self.browser.set_error(path, getattr(error, "reason", str(error)))

    def _show_image(self, image: XRayImage) -> None:
        self.canvas.set_image(image)
        self.invert_action.setChecked(False)
        self.tag_view.set_dataset(image.dataset)
        notices = " ".join(image.notices)
        self._set_status(f"{image.path.name}  {image.width} x {image.height}, {image.bits_stored}-bit  {notices}")

    def _cache(self, image: XRayImage) -> None:
        self._image_cache[image.path] = image
        self._image_cache.move_to_end(image.path)
        while len(self._image_cache) > IMAGE_CACHE_SIZE:
            self._image_cache.popitem(last=False)

    def hide_patient_data(self, hide: bool) -> None:
        """For screenshots and teaching: corners, browser and tag view lose names, IDs and dates."""
        for view in (self.canvas, self.browser, self.tag_view):
            view.set_show_patient_data(not hide)

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

    def closeEvent(self, event) -> None:
        self.workers.shutdown()
        super().closeEvent(event)
