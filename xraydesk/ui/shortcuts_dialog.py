"""Help ▸ Keyboard shortcuts: every action with its key, editable (xraydesk.ui.key_bindings: saved, a key
another action has refused with its name), then the mouse's gestures."""

from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QDialog,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from xraydesk.ui.actions import MOUSE_SHORTCUTS
from xraydesk.ui.key_bindings import KeyBindings, ShortcutConflict

HINT = "Click a key, press the new one. Reset to defaults gives every action its first key back."


class ShortcutsDialog(QDialog):
    def __init__(self, bindings: KeyBindings, actions: dict[str, QAction], parent: QWidget | None = None):
        super().__init__(parent, windowTitle="Keyboard shortcuts")
        self.bindings, self.actions = bindings, actions
        self.action_ids = [action_id for action_id in bindings.actions if action_id in actions]
        self.table = QTableWidget(len(self.action_ids) + len(MOUSE_SHORTCUTS), 2, self)
        self.table.setHorizontalHeaderLabels(["Key", "Action"])
        self.table.verticalHeader().hide()
        self.editors: dict[str, QKeySequenceEdit] = {}
        for row, action_id in enumerate(self.action_ids):
            self.editors[action_id] = editor = QKeySequenceEdit(QKeySequence(bindings.key(action_id)))
            editor.editingFinished.connect(lambda action_id=action_id: self.change(action_id))
            self.table.setCellWidget(row, 0, editor)
            self.table.setItem(row, 1, QTableWidgetItem(bindings.actions[action_id].plain_text))
        for row, cells in enumerate(MOUSE_SHORTCUTS, len(self.action_ids)):
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.message = QLabel(HINT, wordWrap=True)
        reset = QPushButton("Reset to defaults")
        reset.clicked.connect(self.reset)
        layout = QVBoxLayout(self)
        for widget in (self.table, self.message, reset):
            layout.addWidget(widget)
        self.resize(520, 600)

    def key_of(self, action_id: str) -> str:
        return self.editors[action_id].keySequence().toString()

    def change(self, action_id: str) -> None:
        """The key typed for the action, unless another action has it (then the old key is kept)."""
        try:
            self.bindings.set(action_id, self.key_of(action_id))
        except ShortcutConflict as conflict:
            self.message.setText(str(conflict))
        else:
            self.message.setText(HINT)
        self._show_keys()

    def reset(self) -> None:
        self.bindings.reset()
        self._show_keys()

    def _show_keys(self) -> None:
        for action_id in self.action_ids:
            key = QKeySequence(self.bindings.key(action_id))
            self.actions[action_id].setShortcut(key)
            self.editors[action_id].setKeySequence(key)
