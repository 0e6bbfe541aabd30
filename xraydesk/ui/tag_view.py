"""A searchable view of every DICOM element of the current image, sequences included."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PyQt5.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QTreeWidgetItemIterator, QVBoxLayout, QWidget

if TYPE_CHECKING:  # pydicom loads with the first image, not at start-up
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

MAX_VALUE_CHARACTERS = 200
BULK_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}


def element_value_text(element: DataElement) -> str:
    if element.VR == "SQ":
        return f"{len(element.value)} item(s)"
    if element.VR in BULK_VRS:
        return f"<{len(element.value or b'')} bytes>"
    text = str(element.value)
    return text if len(text) <= MAX_VALUE_CHARACTERS else text[:MAX_VALUE_CHARACTERS] + "…"


class DicomTagView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search tags, names or values…")
        self.search.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Tag", "Name", "VR", "Value"])
        self.tree.setColumnWidth(0, 112)
        self.tree.setColumnWidth(1, 170)
        self.tree.setColumnWidth(2, 36)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.search.textChanged.connect(self.apply_filter)
        self._dataset: Dataset | None = None
        self._show_patient_data = True

    def set_show_patient_data(self, show: bool) -> None:
        """Tags hold names, IDs and dates throughout (also in sequences): all are hidden."""
        self._show_patient_data = show
        self.set_dataset(self._dataset)

    def set_dataset(self, dataset: Dataset | None) -> None:
        self._dataset = dataset
        self.tree.clear()
        if dataset is not None and not self._show_patient_data:
            self.tree.addTopLevelItem(QTreeWidgetItem(["", "Hidden with the patient data"]))
        elif dataset is not None:
            if getattr(dataset, "file_meta", None):
                self._add_elements(self.tree.invisibleRootItem(), dataset.file_meta)
            self._add_elements(self.tree.invisibleRootItem(), dataset)
        self.apply_filter(self.search.text())

    def _add_elements(self, parent: QTreeWidgetItem, dataset: Dataset) -> None:
        for element in dataset:
            item = QTreeWidgetItem([str(element.tag), element.name, element.VR, element_value_text(element)])
            parent.addChild(item)
            if element.VR == "SQ":
                for index, sequence_item in enumerate(element.value):
                    child = QTreeWidgetItem([f"Item {index + 1}", "", "", ""])
                    item.addChild(child)
                    self._add_elements(child, sequence_item)

    def apply_filter(self, text: str) -> None:
        """Shows items whose tag, name or value contains the text, with their ancestors."""
        needle = text.strip().lower()
        iterator = QTreeWidgetItemIterator(self.tree)
        while iterator.value():
            item = iterator.value()
            item.setHidden(bool(needle))
            iterator += 1
        if not needle:
            return
        iterator = QTreeWidgetItemIterator(self.tree)
        while iterator.value():
            item = iterator.value()
            if any(needle in item.text(column).lower() for column in range(4)):
                while item is not None:
                    item.setHidden(False)
                    item.setExpanded(True)
                    item = item.parent()
            iterator += 1

    def visible_tags(self) -> list[str]:
        tags = []
        iterator = QTreeWidgetItemIterator(self.tree)
        while iterator.value():
            if not iterator.value().isHidden() and iterator.value().text(0).startswith("("):
                tags.append(iterator.value().text(0))
            iterator += 1
        return tags
