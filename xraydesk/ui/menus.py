"""The window's menus and shortcuts, built from the table in xraydesk.ui.actions: QActions calling
their handlers, or showing and setting a reading option (their check marks follow the option,
whoever changes it)."""

from collections.abc import Callable, Iterable
from functools import reduce

from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QMainWindow, QMenu

from xraydesk.reading.options import DEFAULTS, Options
from xraydesk.ui.actions import MOUSE_SHORTCUTS, SEPARATOR, ActionSpec


def build_menus(window: QMainWindow, table: Iterable[ActionSpec], options: Options,
                key_of: Callable[[str], str] | None = None) -> tuple[dict[str, QAction], dict[str, QMenu]]:
    """(action id -> QAction, menu path or submenu id -> QMenu); handlers are looked up on `window`;
    `key_of(action id)`: the reader's key for it (the table's default without)."""
    actions: dict[str, QAction] = {}
    menus: dict[str, QMenu] = {}

    def menu(path: str) -> QMenu:
        if path not in menus:
            parent, _, title = path.rpartition("/")
            menus[path] = (menu(parent) if parent else window.menuBar()).addMenu(title)
        return menus[path]

    for spec in table:
        if spec.id == SEPARATOR:
            menu(spec.menu).addSeparator()
        elif spec.submenu:
            menus[spec.id] = menu(spec.menu).addMenu(spec.text)
        else:
            actions[spec.id] = action = QAction(spec.text, window, checkable=spec.checkable or bool(spec.option))
            action.setShortcut(QKeySequence(key_of(spec.id) if key_of else spec.shortcut))
            if spec.option:
                _bind_option(action, spec, options)
            else:
                _bind_handler(action, spec, window)
            menu(spec.menu).addAction(action)
    return actions, menus


def _bind_handler(action: QAction, spec: ActionSpec, window: QMainWindow) -> None:
    handler = reduce(getattr, spec.handler.split("."), window)
    if spec.checkable:
        action.triggered.connect(lambda checked: handler(*spec.arguments, checked))
    else:
        action.triggered.connect(lambda _checked=False: handler(*spec.arguments))


def _bind_option(action: QAction, spec: ActionSpec, options: Options) -> None:
    """Checked while the option equals the entry's value. Checking (by the reader, or setChecked) sets
    it; unchecking turns an on/off option off, and sets any other back to its default (so that the
    entry that is the default, such as "Left button pans", stays checked)."""
    def show(value) -> None:
        action.setChecked(value == spec.value)

    def toggled(checked: bool) -> None:
        if checked == (options[spec.option] == spec.value):  # in step already: this entry's own show()
            return
        unchecked = False if spec.value is True else DEFAULTS[spec.option]
        options.set(spec.option, spec.value if checked else unchecked)
        show(options[spec.option])

    show(options[spec.option])
    action.toggled.connect(toggled)
    options.observe(spec.option, show)


def shortcut_rows(table: Iterable[ActionSpec], actions: dict[str, QAction]) -> list[tuple[str, str]]:
    """(key, action) for every shortcut (as set now), then the mouse's; Help ▸ Keyboard shortcuts lists them."""
    rows = [(actions[spec.id].shortcut().toString(), spec.plain_text) for spec in table
            if spec.id in actions and not actions[spec.id].shortcut().isEmpty()]
    return rows + list(MOUSE_SHORTCUTS)
