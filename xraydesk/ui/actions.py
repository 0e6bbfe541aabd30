"""Every menu entry and keyboard shortcut of the main window, as data (this module imports no Qt): the
window builds its menus from ACTIONS (xraydesk.ui.menus), Help ▸ Keyboard shortcuts lists them, the
README documents them, and a shortcut editor can change them by action id.

An entry either calls its handler, a method of the window or of one of its parts named by a dotted
path ("canvas.fit", "reading.toggle_read"), with `arguments`; or it is the check mark of a reading
option (xraydesk.reading.options): checked while the option equals `value`, and setting it to `value`
when checked (to the option's default when unchecked)."""

from dataclasses import dataclass
from typing import Any

SEPARATOR = "-"
KEY_ZOOM_STEP = 1.25


@dataclass(frozen=True)
class ActionSpec:
    id: str  # stable: what a saved shortcut refers to
    menu: str  # the menu path, "&File/&PACS"
    text: str
    shortcut: str = ""  # the default key sequence, as QKeySequence reads it
    handler: str = ""
    arguments: tuple = ()
    option: str = ""
    value: Any = True
    checkable: bool = False  # a handler's action with a check mark (its handler gets the new state)
    submenu: bool = False  # a submenu the window fills (Open recent)

    @property
    def plain_text(self) -> str:
        return self.text.replace("&", "")


def separator(menu: str) -> ActionSpec:
    return ActionSpec(SEPARATOR, menu, "")


FILE, EXPORT, PACS, VIEW, IMAGE, MEASURE, ANALYSIS, HELP = (
    "&File", "&File/&Export", "&File/&PACS", "&View", "&Image", "&Measure", "&Analysis", "&Help")

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_files", FILE, "&Open files…", "Ctrl+O", "choose_files"),
    ActionSpec("open_folder", FILE, "Open &folder…", "Ctrl+Shift+O", "choose_folder"),
    ActionSpec("add_folder", FILE, "&Add folder…", "", "choose_folder", (False,)),
    ActionSpec("recent", FILE, "Open &recent", submenu=True),
    separator(FILE),
    ActionSpec("export_pdf", EXPORT, "&PDF summary…", "Ctrl+E", "export_pdf"),
    ActionSpec("export_deidentified", EXPORT, "&De-identified DICOM…", "", "export_deidentified_dicom"),
    ActionSpec("deidentify_pdf", FILE, "&De-identify PDF summaries", option="deidentify_pdf"),
    separator(FILE),
    ActionSpec("pacs_query", PACS, "&Query / Retrieve…", "Ctrl+Shift+F", "show_pacs_query"),
    ActionSpec("send_results", PACS, "&Send results…", "", "send_results_to_pacs"),
    ActionSpec("listener", PACS, "&Receive studies (listener)", "", "set_listening", checkable=True),
    separator(PACS),
    ActionSpec("pacs_settings", PACS, "S&ettings…", "", "show_pacs_settings"),
    separator(FILE),
    ActionSpec("quit", FILE, "&Quit", "Ctrl+Q", "close"),

    ActionSpec("fit", VIEW, "&Fit to window", "F", "canvas.fit"),
    ActionSpec("actual_pixels", VIEW, "&Actual pixels (1:1)", "0", "canvas.zoom_to", (1.0,)),
    ActionSpec("zoom_in", VIEW, "Zoom &in", "+", "canvas.zoom_by", (KEY_ZOOM_STEP,)),
    ActionSpec("zoom_out", VIEW, "Zoom &out", "-", "canvas.zoom_by", (1 / KEY_ZOOM_STEP,)),
    separator(VIEW),
    ActionSpec("next_image", VIEW, "&Next image", "PgDown", "browser.select_relative", (1,)),
    ActionSpec("previous_image", VIEW, "&Previous image", "PgUp", "browser.select_relative", (-1,)),
    ActionSpec("next_unread_flagged", VIEW, "Next &unread flagged image", "N", "open_next_unread_flagged"),
    ActionSpec("toggle_read", VIEW, "&Mark image read / unread", "M", "toggle_read"),
    separator(VIEW),
    ActionSpec("hide_patient_data", VIEW, "&Hide patient data", "D", option="hide_patient_data"),
    separator(VIEW),
    ActionSpec("compare", VIEW, "&Compare with prior", "C", option="compare"),
    ActionSpec("link_views", VIEW, "&Link views (compare)", option="link_views"),
    ActionSpec("hanging_protocol", VIEW, "&Hang the prior beside a study on open", option="hanging_protocol"),
    separator(VIEW),  # the docks' show/hide entries follow

    # The chest presets on 1-4 (xraydesk.reading.presets); Edit chest presets changes the first three.
    ActionSpec("lung_window", IMAGE, "&Lung window", "1", "reading.chest_preset", ("lung",)),
    ActionSpec("mediastinum_window", IMAGE, "&Mediastinum window", "2", "reading.chest_preset", ("mediastinum",)),
    ActionSpec("bone_window", IMAGE, "&Bone window", "3", "reading.chest_preset", ("bone",)),
    ActionSpec("default_window", IMAGE, "&Default window (the image's own)", "4", "reading.chest_preset",
               ("default",)),
    ActionSpec("edit_presets", IMAGE, "&Edit chest presets…", "", "edit_window_presets"),
    ActionSpec("header_window", IMAGE, "&Header window (repeat: next)", "5", "reading.next_header_window"),
    ActionSpec("auto_window", IMAGE, "&Auto window (percentiles)", "6", "reading.window_preset", ("auto_window",)),
    ActionSpec("full_range_window", IMAGE, "F&ull range", "7", "reading.window_preset", ("full_range_window",)),
    ActionSpec("invert", IMAGE, "&Invert", "I", "reading.set_invert", checkable=True),
    ActionSpec("reset_view", IMAGE, "&Reset window, zoom and invert", "R", "canvas.reset_view"),
    separator(IMAGE),
    # Display only: the file is never changed and the AI sees the image as stored.
    ActionSpec("rotate_clockwise", IMAGE, "Rotate 90° clock&wise", "]", "canvas.rotate", (1,)),
    ActionSpec("rotate_counter_clockwise", IMAGE, "Rotate 90° counter-clock&wise", "[", "canvas.rotate", (-1,)),
    ActionSpec("flip_horizontal", IMAGE, "Flip &horizontal", "Alt+H", "canvas.flip", (True,)),
    ActionSpec("flip_vertical", IMAGE, "Flip &vertical", "Alt+V", "canvas.flip", (False,)),
    separator(IMAGE),
    ActionSpec("pan_mode", IMAGE, "Left button &pans", "P", option="left_button_windows", value=False),
    ActionSpec("window_mode", IMAGE, "Left button &windows (W/L mode)", "W", option="left_button_windows"),

    # One tool at a time; Esc cancels the measurement being made.
    ActionSpec("ruler", MEASURE, "&Ruler", "L", option="measure_tool", value="ruler"),
    ActionSpec("angle", MEASURE, "&Angle", "A", option="measure_tool", value="angle"),
    ActionSpec("ctr", MEASURE, "&Cardiothoracic ratio", "T", option="measure_tool", value="ctr"),
    ActionSpec("arrow", MEASURE, "Arro&w with text", "Shift+A", option="measure_tool", value="arrow"),
    separator(MEASURE),
    ActionSpec("key_image", MEASURE, "Mark as &key image…", "K", "mark_key_image"),

    ActionSpec("analyse", ANALYSIS, "&Analyse image", "Ctrl+Return", "analyse_current"),
    ActionSpec("auto_analyse", ANALYSIS, "Analyse automatically on &open", option="auto_analyse"),
    separator(ANALYSIS),
    ActionSpec("heatmap", ANALYSIS, "&Heatmap overlay", "H", option="heatmap"),
    ActionSpec("zones", ANALYSIS, "&Zones and lung outline", "Z", option="zones"),
    separator(ANALYSIS),
    ActionSpec("analyse_all", ANALYSIS, "Analyse all images (&worklist)", "Ctrl+Shift+Return", "analyse_all"),
    ActionSpec("cancel_worklist", ANALYSIS, "&Cancel worklist", "", "analysis.cancel_worklist"),
    separator(ANALYSIS),
    ActionSpec("film_dates", ANALYSIS, "Set &dates of PNG/JPEG films…", "", "set_film_dates"),

    ActionSpec("shortcuts", HELP, "&Keyboard shortcuts", "F1", "show_shortcuts"),
    ActionSpec("about", HELP, "&About XRayDesk", "", "show_about"),
)

MOUSE_SHORTCUTS = (
    ("Right drag", "Window/level (left drag too in W/L mode)"),
    ("Middle drag", "Pan"),
    ("Esc", "Cancel the measurement being made; leave compare mode"),
    ("Wheel", "Zoom around the cursor"),
)
