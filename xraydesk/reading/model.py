"""The reading model (no Qt; napari's ViewerModel, 3D Slicer's parameter node): everything the
workstation knows about the reading under way, so that the window only wires views to it.

It holds the studies open (StudySession: images, read marks, key images, measurements, the reader's
draft reports, the decoded-image cache), the image on screen and its view (window/level, invert, zoom,
pan, rotation, flips), the reader's options (Options: what the menus' check marks mean), the analyses of
the images open, the recent files, and the rules built on them: when an image counts as read, the next
unread flagged image, the hanging protocol, the next header window, the trend's "no clear change"
limits, the draft report, the export scope and the PDF job, what Send results sends. Views observe its
plain events (xraydesk.events); workers feed it on the UI thread, and a timer tells it when an image
has stayed on screen long enough to count as read (xraydesk.ui.read_marks).

The Open rule (OPEN_RULE): File ▸ Open replaces the reading: the studies in the browser, the
worklist, the analyses, read marks, key images, measurements and drafts, and the image on screen
(compare mode ends).
File ▸ Add folder, a PACS retrieve and the listener add to it. An analysis is kept only while its
image is open, so the export, the trend, compare and the worklist show the open studies only, and a
late result for an image of a study no longer open is dropped.

Results waiting in a study: the AI node's result of an image (its SR in the image's study, by the model
version the app has) is kept like an analysis made here and not made again; its heatmaps and lung mask,
which the SR lacks, are computed when an overlay shows them (maps_wanted), and added to the node's
answer (keep_maps)."""

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from xraydesk.ai.analysis import Analyser, ImageAnalysis
from xraydesk.ai.model import ModelUnavailableError
from xraydesk.ai.trend import ChangeLimits
from xraydesk.ai.words import is_flagged
from xraydesk.events import Event
from xraydesk.imaging import IMAGE, ImageDisplay, Preview, ScanEntry, ViewState, Window, XRayImage
from xraydesk.imaging.session import StudySession
from xraydesk.jobs.report import write_report
from xraydesk.reading.export_scope import SCOPES, analyses_in_scope
from xraydesk.reading.options import Options, SettingsStore
from xraydesk.reading.presets import ChestPresets
from xraydesk.reading.recent import RecentFiles

OPEN_RULE = ("Open replaces the studies, the worklist, the analyses, read marks, key images, measurements and "
             "drafts; "
             "Add folder, a PACS retrieve and the listener add to them.")
NO_UNREAD_FLAGGED = "No unread flagged image: analyse a folder (Ctrl+Shift+Return), or all are read."
WINDOW_PRESETS = ("auto_window", "full_range_window")  # ImageDisplay's methods
OVERLAYS = ("heatmap", "zones")  # the options that show the maps: the heatmaps, the lung mask and its zones


class Reading:
    def __init__(self, analyser: Analyser | None = None, settings: SettingsStore | None = None,
                 session: StudySession | None = None):
        """`analyser`: the model logic (by default the shipped model, loaded on first use); `settings`:
        where remembered options and recent files live (a MemoryStore by default)."""
        self.analyser = analyser or Analyser()
        self.session = session or StudySession()
        self.options = Options(settings)
        self.recent = RecentFiles(self.options.store)
        self.chest_presets = ChestPresets(self.options.store)
        self.analyses: OrderedDict[Path, ImageAnalysis] = OrderedDict()  # in analysis order
        self.display: ImageDisplay | None = None  # on screen: the current image's mapping, or a preview's
        self.current: XRayImage | None = None  # the full image on screen (None while a preview shows)
        self.view: ViewState | None = None
        self._limits: ChangeLimits | None = None
        self._retrieved_folder: Path | None = None
        self._dwelling: Path | None = None  # on screen, read once it has stayed there a moment (dwelt)
        self._hung_study: tuple | None = None  # the study the hanging protocol last saw opened
        self.preview_shown = Event()  # Preview, ImageDisplay: pixels only, until image_shown
        self.image_shown = Event()  # ImageDisplay of the new current image
        self.closed = Event()  # the reading was replaced (Open): nothing is on screen
        self.view_changed = Event()  # ViewState, whoever changed it
        self.analysis_shown = Event()  # ImageAnalysis | None: the current image's, to draw and describe
        self.analysed = Event()  # ImageAnalysis kept (of any open image)
        self.analysis_wanted = Event()  # XRayImage to analyse now (analyse on open)
        self.maps_wanted = Event()  # XRayImage on screen whose result lacks the maps its overlays show
        self._maps_asked: set[Path] = set()
        self.analyses_cleared = Event()
        self.session.cleared.connect(self._replace)
        for overlay in OVERLAYS:
            self.options.observe(overlay, lambda _shown: self._want_maps())

    # ------------------------------------------------------------ the image on screen and its view

    def show_preview(self, preview: Preview, display: ImageDisplay) -> None:
        self.display, self.current = display, None
        self.preview_shown.emit(preview, display)

    def show(self, display: ImageDisplay) -> None:
        """The image asked for is decoded: it is on screen (read once it stays there: dwelt), hung beside
        its prior when the hanging protocol is on, and analysed when the reader wants every image
        analysed on open."""
        image = display.image
        self.display, self.current = display, image
        self._dwelling = image.path
        self.image_shown.emit(display)
        self._hang_prior(image.path)
        analysis = self.analyses.get(image.path)
        self.analysis_shown.emit(analysis)
        if analysis is None and self.options["auto_analyse"]:
            self.analysis_wanted.emit(image)
        self._want_maps()

    def _hang_prior(self, path: Path) -> None:
        """The hanging protocol, when on: a study opened (an image of another study than the one before)
        whose patient has an earlier study is laid out beside it (StudySession.hanging_prior)."""
        entry = self.session.entry(path)
        study, self._hung_study = self._hung_study, entry.study_key if entry else None
        if (self.options["hanging_protocol"] and entry is not None and entry.study_key != study
                and not self.options["compare"] and self.session.hanging_prior(path) is not None):
            self.options.set("compare", True)

    def show_none(self) -> None:
        """Nothing is on screen (the image asked for could not be opened, or nothing was found)."""
        self.display = self.current = self.view = None
        self._dwelling = None

    def is_on_screen(self, path: Path) -> bool:
        return self.current is not None and self.current.path == path

    def follow_view(self, view: ViewState) -> None:
        """The canvas changed the view (it knows its size: zoom, pan, fit, rotation)."""
        if view != self.view:
            self.view = view
            self.view_changed.emit(view)

    def set_window(self, window: Window) -> None:
        if self.view is not None:
            self.follow_view(replace(self.view, window=window))

    def set_invert(self, invert: bool) -> None:
        if self.view is not None:
            self.follow_view(replace(self.view, invert=invert))

    def window_preset(self, name: str) -> None:
        """One of WINDOW_PRESETS, computed for the image on screen."""
        if self.display is not None:
            self.set_window(getattr(self.display, name)())

    def chest_preset(self, name: str) -> None:
        """Lung, mediastinum, bone (as the reader edited them) or the image's default window (presets.PRESET_NAMES)."""
        if self.display is not None:
            self.set_window(self.chest_presets.window(name, self.display))

    def next_header_window(self) -> None:
        """Header windows in turn; images without one get their default window."""
        if self.display is None or self.view is None:
            return
        windows = self.display.image.header_windows or [self.display.default_window()]
        current = self.view.window
        self.set_window(windows[(windows.index(current) + 1) % len(windows) if current in windows else 0])

    def name_of(self, path: Path) -> str:
        """A file's name, or 'the image' while patient data is hidden (file names are often patient IDs)."""
        return "the image" if self.options["hide_patient_data"] else path.name

    # ------------------------------------------------------------ reading through the studies

    def dwelt(self) -> None:
        """The image on screen has stayed there READ_AFTER_MS (xraydesk.ui.read_marks): it is read.
        Paging past a film does not read it; the reader's own mark (toggle_read) is not overruled."""
        if self._dwelling is not None and self.is_on_screen(self._dwelling):
            self.session.set_read(self._dwelling)
        self._dwelling = None

    def toggle_read(self) -> None:
        """M: the reader's word for the image on screen; the time on screen no longer decides for it."""
        if self.current is not None:
            path, self._dwelling = self.current.path, None
            self.session.set_read(path, not self.session.is_read(path))

    def next_unread_flagged(self, order: Iterable[Path]) -> Path | None:
        """In `order` (the worklist's: priority by default), the next flagged image not yet read after the
        one on screen (a film passed over too quickly to count as read comes round again after the others)."""
        order = list(order)
        on_screen = self.current.path if self.current is not None else None
        start = order.index(on_screen) + 1 if on_screen in order else 0
        return next((path for path in order[start:] + order[:start] if path != on_screen and path in self.analyses
                     and is_flagged(self.analyses[path]) and not self.session.is_read(path)), None)

    def has_prior(self) -> bool:
        return self.current is not None and bool(self.session.prior_studies(self.current.path))

    def retrieved(self, folders: list[Path]) -> None:
        """Studies retrieved into these folders are being added: the first one's first image opens."""
        self._retrieved_folder = folders[0] if folders else None

    def retrieved_image(self) -> Path | None:
        """After a scan: the first image of the study retrieved last, once (None when there is none)."""
        folder, self._retrieved_folder = self._retrieved_folder, None
        if folder is None:
            return None
        return next((path for path in self.session.image_paths() if folder in path.parents), None)

    # ------------------------------------------------------------ the analyses (the Open rule)

    def keep(self, analysis: ImageAnalysis) -> bool:
        """Keeps the analysis of an open image (False: its study is no longer open, it is dropped)."""
        path = analysis.path
        if not self.session.holds(path):
            return False
        entry = self.session.entry(path)
        if entry.source_format != "DICOM" and analysis.identity.keys != entry.keys:  # a film the reader dated
            analysis = replace(analysis, identity=replace(analysis.identity, keys=entry.keys))
        self.analyses[path] = analysis
        self.analyses.move_to_end(path)
        self.analysed.emit(analysis)
        if self.is_on_screen(path):
            self.analysis_shown.emit(analysis)
            self._want_maps()
        return True

    def keep_maps(self, computed: ImageAnalysis) -> bool:
        """The maps computed for a result that lacked them (maps_wanted) join it: the answer stays the one
        shown (the AI node's), now with heatmaps and lung mask."""
        held = self.analyses.get(computed.path)
        if held is not None and held.lacks_maps and computed.lung_probability is not None:
            computed = held.with_maps_of(computed)
        return self.keep(computed)

    def _want_maps(self) -> None:
        """Asks once for the maps of the result on screen when it lacks them and an overlay shows them."""
        analysis = self.current_analysis()
        if (analysis is not None and analysis.lacks_maps and any(self.options[name] for name in OVERLAYS)
                and analysis.path not in self._maps_asked):
            self._maps_asked.add(analysis.path)
            self.maps_wanted.emit(self.current)

    def results_to_look_up(self, entries: list[ScanEntry]) -> list[tuple[ScanEntry, list[ScanEntry]]]:
        """(image, the pixel-less objects of its study) of the scanned DICOM images not analysed yet whose
        study holds such objects: where the AI node's result may be waiting."""
        wanted = [(entry, self.session.study_objects(entry.path)) for entry in entries
                  if entry.kind == IMAGE and entry.keys.sop_instance_uid and entry.path not in self.analyses
                  and self.session.holds(entry.path)]
        return [(entry, objects) for entry, objects in wanted if objects]

    def _replace(self) -> None:
        """Open: the session has been emptied; the analyses and the image on screen go with it."""
        self.analyses.clear()
        self._maps_asked.clear()
        self.show_none()
        self.options.set("compare", False)
        self.analyses_cleared.emit()
        self.closed.emit()

    def date_films(self, dates: dict[Path, str]) -> None:
        """The reader's dates for PNG/JPEG films (StudySession.date_films): compare and the trend order them
        from now on, their analyses too."""
        for path in self.session.date_films(dates):
            if path in self.analyses:
                self.keep(self.analyses[path])

    def current_analysis(self) -> ImageAnalysis | None:
        return self.analyses.get(self.current.path) if self.current is not None else None

    def shows_trend(self) -> bool:
        """The results dock shows the patient's course once the image on screen is analysed and accepted."""
        analysis = self.current_analysis()
        return analysis is not None and analysis.prediction is not None

    def draft_of(self, analysis: ImageAnalysis) -> str:
        """The reader's edit of the image's draft report, else the model's draft with the comparison to the
        prior and, for the image on screen, the reader's measurements (xraydesk.report.pages.drafted)."""
        from xraydesk.report.pages import drafted  # matplotlib: on first use

        if analysis.path in self.session.drafts:
            return self.session.drafts[analysis.path]
        on_screen = self.is_on_screen(analysis.path)
        measurements = [m.describe(self.current) for m in self.session.measurements.for_image(analysis.path)
                        if on_screen]

        def limits() -> ChangeLimits | None:
            known = self.change_limits()
            return known if isinstance(known, ChangeLimits) else None

        return drafted(analysis, self.analyses.values(), measurements, limits)

    def keep_draft(self, text: str) -> None:
        """The reader edited the draft of the image on screen."""
        if self.current is not None:
            self.session.drafts[self.current.path] = text

    def change_limits(self) -> ChangeLimits | str:
        """The model's "no clear change" limits (read once), or why there are none."""
        if self._limits is None:
            if not self.analyser.is_loaded:
                return "the model is not loaded"
            try:
                self._limits = ChangeLimits.from_metadata(self.analyser.model().metadata)
            except ModelUnavailableError as error:
                return str(error)
        return self._limits

    # ------------------------------------------------------------ export and send

    def scope_counts(self, selected: list[Path]) -> dict[str, int]:
        """How many pages each scope gives (refused images left out)."""
        current = self.current.path if self.current else None
        return {scope: len(analyses_in_scope(scope, self.analyses, current, selected)) for scope in SCOPES}

    def refused_count(self) -> int:
        return sum(analysis.prediction is None for analysis in self.analyses.values())

    def analyses_to_report(self, scope: str | None = None, selected: list[Path] = (),
                           include_refused: bool = False) -> list[ImageAnalysis]:
        """The analyses of `scope` (export_scope.SCOPES); by default the worklist rows `selected`, else
        every image analysed, in analysis order."""
        scope = scope or ("selection" if selected else "all")
        current = self.current.path if self.current else None
        return analyses_in_scope(scope, self.analyses, current, list(selected), include_refused)

    def report_job(self, path: Path, analyses: list[ImageAnalysis], overwrite: bool) -> Callable:
        """The PDF summary as a worker task (report, should_stop): the image on screen printed with the
        reader's window and inversion, each with its measurements and draft as they are now, de-identified unless
        the reader turned that off, with the map shown in the app (computed for an AI node's answer that
        lacks it)."""
        views = {self.current.path: self.view} if self.current is not None and self.view is not None else {}
        measurements = {analysis.path: tuple(self.session.measurements.for_image(analysis.path))
                        for analysis in analyses}  # as they are now: the reader may go on measuring
        image_for, target = self.session.image_source(), self.options["heatmap_settings"].target
        deidentify, analyser = self.options["deidentify_pdf"], self.analyser
        drafts = dict(self.session.drafts)  # as they are now, like the measurements

        def limits() -> ChangeLimits:  # read only when some patient has a trend page, on the worker
            return ChangeLimits.from_metadata(analyser.model().metadata)

        return lambda report, should_stop: write_report(path, analyses, image_for, limits, target, views,
                                                        measurements.get, deidentify, overwrite, report,
                                                        drafts.get, analyser.with_maps)

    def results_to_send(self, selected: list[Path]) -> tuple[list[Path], dict[Path, ImageAnalysis]]:
        """The worklist rows selected, else the image on screen; with a copy of the analyses (read on a worker)."""
        paths = list(selected) or ([self.current.path] if self.current is not None else [])
        return paths, dict(self.analyses)
