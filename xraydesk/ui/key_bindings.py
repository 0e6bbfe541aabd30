"""The reader's keyboard shortcuts over the action table (this module imports no Qt): each action's
default key (xraydesk.ui.actions) unless the reader changed it in Help ▸ Keyboard shortcuts, kept in the
SettingsStore. One key does one thing: a key another action has is refused, naming that action."""

import json
from collections.abc import Iterable

from xraydesk.reading.options import SettingsStore
from xraydesk.ui.actions import MOUSE_SHORTCUTS, SEPARATOR, ActionSpec

SHORTCUTS_KEY = "shortcuts"


class ShortcutConflict(ValueError):
    """A key is already another action's (the message names it)."""


def same_key(first: str, second: str) -> bool:
    """Key sequences as written by Qt ("Ctrl+Shift+O"); case and spaces do not matter."""
    return first.replace(" ", "").lower() == second.replace(" ", "").lower()


class KeyBindings:
    def __init__(self, table: Iterable[ActionSpec], store: SettingsStore):
        self.actions = {spec.id: spec for spec in table if spec.id != SEPARATOR and not spec.submenu}
        self.store = store

    def _changed(self) -> dict[str, str]:
        try:
            saved = json.loads(self.store.value(SHORTCUTS_KEY, "{}"))
        except (TypeError, ValueError):  # settings edited by hand into nonsense: the defaults
            return {}
        return {action: key for action, key in saved.items() if action in self.actions} if isinstance(saved, dict) \
            else {}

    def key(self, action_id: str) -> str:
        return self._changed().get(action_id, self.actions[action_id].shortcut)

    def holder(self, key: str, other_than: str = "") -> ActionSpec | None:
        """The action (other than `other_than`) whose key `key` is now."""
        return next((spec for spec in self.actions.values()
                     if spec.id != other_than and key and same_key(self.key(spec.id), key)), None)

    def set(self, action_id: str, key: str) -> None:
        """`key` ('' for none) for the action; raises ShortcutConflict when another action has it."""
        holder = self.holder(key, other_than=action_id)
        if holder is not None:
            raise ShortcutConflict(f"{key} is already the key of “{holder.plain_text}”: "
                                   f"give that action another key first.")
        fixed = next((what for gesture, what in MOUSE_SHORTCUTS if same_key(gesture, key)), None)
        if fixed is not None:  # Esc, handled by the canvas itself
            raise ShortcutConflict(f"{key} is already the key of “{fixed}”, which cannot be changed.")
        changed = self._changed()
        changed[action_id] = key
        if key == self.actions[action_id].shortcut:
            del changed[action_id]
        self.store.set_value(SHORTCUTS_KEY, json.dumps(changed))

    def reset(self) -> None:
        self.store.set_value(SHORTCUTS_KEY, "{}")
