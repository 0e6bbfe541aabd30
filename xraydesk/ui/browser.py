"""The study browser: patient → study → series → image, with thumbnails, plus the files that were
skipped and why. Entries arrive one by one from the scan and are inserted in sorted place."""

from bisect import bisect_right
from collections import Counter
from pathlib import Path

import numpy as np
from PyQt5.QtCore import QSize, Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PyQt5.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

from xraydesk.imaging import ERROR, IMAGE, ScanEntry
from xraydesk.imaging.header import format_study_date
from xraydesk.imaging.session import THUMBNAIL_SIZE

SORT_KEY_ROLE = Qt.UserRole
PATH_ROLE = Qt.UserRole + 1
PRIVATE_LABEL_ROLE = Qt.UserRole + 2
DETAILS_ROLE = Qt.UserRole + 3  # an image's details before a key-image mark
KEY_MARK = "★"
ERROR_COLOR = QColor(200, 60, 60)


def pixmap_from_gray(pixels: np.ndarray) -> QPixmap:
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape
    return QPixmap.fromImage(QImage(pixels.data, width, height, width, QImage.Format_Grayscale8).copy())


def patient_label(entry: ScanEntry) -> str:
    if entry.source_format != "DICOM":
        return "Image files (no patient data)"
    keys = entry.keys
    name = keys.patient_name.replace("^", " ").strip() or "Unknown patient"
    return f"{name} ({keys.patient_id})" if keys.patient_id else name


def study_label(entry: ScanEntry) -> str:
    return " ".join(filter(None, [format_study_date(entry.keys.study_date), entry.keys.study_description])) or "Study"


def series_label(entry: ScanEntry) -> str:
    keys = entry.keys
    number = f"#{keys.series_number}" if keys.series_number is not None else ""
    return " ".join(filter(None, [keys.modality or entry.source_format, "series", number, keys.series_description]))


def image_label(entry: ScanEntry) -> str:
    number = entry.keys.instance_number
    if entry.named_by_uid or number is None:
        return entry.image_name
    return f"{number}: {entry.path.name}"


class StudyBrowser(QTreeWidget):
    imageSelected = pyqtSignal(object)  # Path

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setHeaderLabels(["Item", "Details"])
        self.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.setColumnWidth(0, 260)
        self._image_items: dict[Path, QTreeWidgetItem] = {}
        self._group_items: dict[tuple, QTreeWidgetItem] = {}
        self._skipped_item: QTreeWidgetItem | None = None
        self._skipped_reasons: Counter[str] = Counter()
        self._show_patient_data = True
        self.currentItemChanged.connect(self._on_current_changed)

    def clear(self) -> None:
        super().clear()
        self._image_items.clear()
        self._group_items.clear()
        self._skipped_item = None
        self._skipped_reasons.clear()

    # ------------------------------------------------------------ filling

    def add_entry(self, entry: ScanEntry) -> None:
        if entry.path in self._image_items:
            return
        if entry.kind != IMAGE:
            self._add_skipped(entry)
            return
        series = self._group(entry)
        item = QTreeWidgetItem([image_label(entry), entry.source_format])
        item.setData(0, SORT_KEY_ROLE, entry.sort_key)
        item.setData(0, PATH_ROLE, str(entry.path))
        item.setData(0, PRIVATE_LABEL_ROLE, image_label(entry))  # file names are often patient IDs (RSNA)
        position = _insert_sorted(series, item)
        self._image_items[entry.path] = item
        if self._show_patient_data:
            self._label_private_item(item)
        else:  # hidden labels number the images in their series: those after it move up one
            for index in range(position, series.childCount()):
                self._label_private_item(series.child(index), index)

    def _group(self, entry: ScanEntry) -> QTreeWidgetItem:
        parent = self.invisibleRootItem()
        for key, sort_key, label, private in [
            (entry.patient_key, entry.patient_key, patient_label(entry), True),
            (entry.study_key, entry.study_order, study_label(entry), True),  # a day's studies by time
            (entry.series_key, entry.series_key, series_label(entry), False),
        ]:
            if key not in self._group_items:
                item = QTreeWidgetItem([label, ""])
                item.setData(0, SORT_KEY_ROLE, sort_key)
                if private:
                    item.setData(0, PRIVATE_LABEL_ROLE, label)
                _insert_sorted(parent, item, before_skipped=parent is self.invisibleRootItem())
                item.setExpanded(True)
                self._group_items[key] = item
                self._label_private_item(item)
            parent = self._group_items[key]
        return parent

    def set_show_patient_data(self, show: bool) -> None:
        self._show_patient_data = show
        for item in self._group_items.values():
            self._label_private_item(item)
        for series in {id(item.parent()): item.parent() for item in self._image_items.values()}.values():
            for index in range(series.childCount()):
                self._label_private_item(series.child(index), index)

    def _label_private_item(self, item: QTreeWidgetItem, index: int = 0) -> None:
        """Patient and study nodes carry names and dates, images their file names; hidden, they read
        'Patient', 'Study' and 'Image N' (N - 1 = `index`, the image's place in its series)."""
        label = item.data(0, PRIVATE_LABEL_ROLE)
        if label is None:
            return
        if item.data(0, PATH_ROLE):
            generic = f"Image {index + 1}"
            item.setToolTip(0, item.data(0, PATH_ROLE) if self._show_patient_data else "")
        else:
            generic = "Patient" if item.parent() is None else "Study"
        item.setText(0, label if self._show_patient_data else generic)

    def _add_skipped(self, entry: ScanEntry) -> None:
        if self._skipped_item is None:
            self._skipped_item = QTreeWidgetItem(["Skipped", ""])
            self.addTopLevelItem(self._skipped_item)
        item = QTreeWidgetItem([entry.path.name, entry.reason])
        item.setToolTip(0, str(entry.path))
        item.setToolTip(1, entry.reason)
        if entry.kind == ERROR:
            item.setForeground(1, QBrush(ERROR_COLOR))
        self._skipped_item.addChild(item)
        self._skipped_reasons[entry.reason] += 1
        self._skipped_item.setText(0, f"Skipped ({self._skipped_item.childCount()})")

    def set_thumbnail(self, path: Path, thumbnail: np.ndarray) -> None:
        if path in self._image_items:
            self._image_items[path].setIcon(0, QIcon(pixmap_from_gray(thumbnail)))

    def set_key_image(self, path: Path, reason: str | None) -> None:
        """A key image reads "★ reason" in its details column (None: the mark is taken back)."""
        item = self._image_items.get(path)
        if item is None:
            return
        if item.data(1, DETAILS_ROLE) is None:
            item.setData(1, DETAILS_ROLE, item.text(1))
        item.setText(1, f"{KEY_MARK} {reason}" if reason else item.data(1, DETAILS_ROLE))
        item.setToolTip(1, f"Key image: {reason}" if reason else "")

    def key_image_paths(self) -> list[Path]:
        return [path for path in self.image_paths() if self._image_items[path].text(1).startswith(KEY_MARK)]

    def set_error(self, path: Path, reason: str) -> None:
        if path in self._image_items:
            item = self._image_items[path]
            item.setText(1, reason)
            item.setToolTip(1, reason)
            item.setForeground(1, QBrush(ERROR_COLOR))

    # ------------------------------------------------------------ queries and selection

    def image_paths(self) -> list[Path]:
        """Image paths in the browser's (sorted) order."""
        paths = []

        def collect(item: QTreeWidgetItem) -> None:
            if item.data(0, PATH_ROLE):
                paths.append(Path(item.data(0, PATH_ROLE)))
            for index in range(item.childCount()):
                collect(item.child(index))

        collect(self.invisibleRootItem())
        return paths

    def skipped_count(self) -> int:
        return self._skipped_item.childCount() if self._skipped_item else 0

    def skipped_summary(self) -> str:
        return "; ".join(f"{count} × {reason}" for reason, count in self._skipped_reasons.most_common(3))

    def select_path(self, path: Path) -> None:
        if path in self._image_items:
            self.setCurrentItem(self._image_items[path])
            self.scrollToItem(self._image_items[path])

    def select_relative(self, step: int) -> None:
        paths = self.image_paths()
        if not paths:
            return
        current = self.currentItem()
        current_path = Path(current.data(0, PATH_ROLE)) if current and current.data(0, PATH_ROLE) else None
        index = paths.index(current_path) + step if current_path in paths else 0
        self.select_path(paths[max(0, min(index, len(paths) - 1))])

    def _on_current_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is not None and current.data(0, PATH_ROLE):
            self.imageSelected.emit(Path(current.data(0, PATH_ROLE)))


def _insert_sorted(parent: QTreeWidgetItem, item: QTreeWidgetItem, before_skipped: bool = False) -> int:
    keys = [parent.child(index).data(0, SORT_KEY_ROLE) for index in range(parent.childCount())]
    if before_skipped:  # the 'Skipped' node has no sort key and stays last
        keys = [key for key in keys if key is not None]
    position = bisect_right(keys, item.data(0, SORT_KEY_ROLE))
    parent.insertChild(position, item)
    return position
