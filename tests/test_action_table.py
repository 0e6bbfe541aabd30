"""The table the menus and shortcuts are built from (xraydesk.ui.actions), read without Qt: what a
shortcut editor relies on."""

from collections import Counter

from xraydesk.reading.options import DEFAULTS, MEASURE_TOOLS, NAVIGATE
from xraydesk.ui.actions import ACTIONS, SEPARATOR


def test_ids_and_default_shortcuts_are_unique():
    entries = [spec for spec in ACTIONS if spec.id != SEPARATOR]
    assert not [name for name, count in Counter(spec.id for spec in entries).items() if count > 1]
    keys = Counter(spec.shortcut for spec in entries if spec.shortcut)
    assert not [key for key, count in keys.items() if count > 1]


def test_each_entry_calls_a_handler_or_shows_a_known_option():
    for spec in ACTIONS:
        if spec.id == SEPARATOR or spec.submenu:
            assert not spec.handler and not spec.option
        else:
            assert bool(spec.handler) != bool(spec.option), spec.id
    values = {(spec.option, spec.value) for spec in ACTIONS if spec.option}
    assert {option for option, _ in values} <= set(DEFAULTS)
    assert {value for option, value in values if option == "measure_tool"} == set(MEASURE_TOOLS)
    assert NAVIGATE not in {value for _, value in values}  # no tool is "no tool": Esc or unchecking
