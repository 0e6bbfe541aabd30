"""The PACS dialogs: Settings (the nodes, our AE title and the listener, Test connection), Query /
Retrieve (search a node, retrieve studies into the local store) and Send results. Each is a thin
view over PacsController, which does the work on workers; nothing here waits on the network."""

import copy
from collections.abc import Callable
from pathlib import Path

from PyQt5.QtCore import QDate, Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from xraydesk.ai.analysis import ImageAnalysis
from xraydesk.imaging import XRayImage
from xraydesk.imaging.header import format_study_date
from xraydesk.jobs.send_results import ImageOutcome, ReadingFiles, WithMaps
from xraydesk.jobs.words import count_words
from xraydesk.pacs.nodes import (
    AUTH_BASIC,
    AUTH_BEARER,
    AUTH_NONE,
    DICOMWEB,
    DIMSE,
    Node,
    PacsError,
    PacsSettings,
    check_ae_title,
)
from xraydesk.pacs.types import (
    DEFAULT_MODALITIES,
    StudyQuery,
    StudyRow,
    parse_modalities,
)
from xraydesk.ui.pacs_controller import PacsController

ROW_ROLE = Qt.UserRole
NO_NODE = "No PACS configured yet: add one in File ▸ PACS ▸ Settings…"
AUTH_CHOICES = ((AUTH_NONE, "None"), (AUTH_BASIC, "Basic (user name and password)"), (AUTH_BEARER, "Bearer token"))
DATE_FORMAT = "yyyy-MM-dd"  # as format_study_date writes dates
STUDY_COLUMNS = ("Patient", "Patient ID", "Date", "Description", "Modalities", "Images")
NODE_LABEL_WIDTH = 120
OK_COLOUR, FAILED_COLOUR = "#2e7d32", "#c62828"


def table(columns, parent: QWidget | None = None) -> QTableWidget:
    """Read-only rows, selected whole, sized to their contents, the last column stretched."""
    widget = QTableWidget(0, len(columns), parent)
    widget.setHorizontalHeaderLabels(columns)
    widget.setEditTriggers(QAbstractItemView.NoEditTriggers)
    widget.setSelectionBehavior(QAbstractItemView.SelectRows)
    widget.verticalHeader().hide()
    widget.horizontalHeader().setStretchLastSection(True)
    widget.setTextElideMode(Qt.ElideMiddle)  # long IDs keep their start and end
    widget.setWordWrap(False)
    return widget


def set_row(widget: QTableWidget, row: int, cells, data=None) -> None:
    for column, text in enumerate(cells):
        item = QTableWidgetItem(str(text))
        item.setData(ROW_ROLE, data)
        widget.setItem(row, column, item)


def add_rows(form: QFormLayout, rows) -> None:
    """Labels of one width, so that the fields of the node form's two pages line up with its own."""
    for text, widget in rows:
        form.addRow(QLabel(text, minimumWidth=NODE_LABEL_WIDTH), widget)


def show_outcome(label: QLabel, ok: bool, words: str) -> None:
    label.setText(words)
    label.setStyleSheet(f"color: {OK_COLOUR if ok else FAILED_COLOUR}")


def node_picker(controller: PacsController) -> QComboBox:
    """The saved nodes by name, kept up to date when the settings change."""
    picker = QComboBox()

    def refill() -> None:
        current = picker.currentText()
        picker.clear()
        picker.addItems([node.name for node in controller.settings.nodes])
        picker.setCurrentIndex(max(0, picker.findText(current)))

    refill()
    controller.settingsChanged.connect(refill)
    return picker


# ------------------------------------------------------------ settings


class NodeForm(QGroupBox):
    """Edits one node in place: DIMSE (AE title, host, port, C-GET or C-MOVE) or DICOMweb (URL,
    authentication, TLS verification)."""

    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Selected node", parent)
        self.node: Node | None = None
        self.name = QLineEdit(placeholderText="e.g. Main PACS")
        self.protocol = QComboBox()
        self.protocol.addItem("DIMSE (AE title, host, port)", DIMSE)
        self.protocol.addItem("DICOMweb (URL)", DICOMWEB)
        self.ae_title = QLineEdit(maxLength=16, placeholderText="the PACS's AE title, e.g. ORTHANC")
        self.host = QLineEdit(placeholderText="host name or IP address")
        self.port = QSpinBox(minimum=1, maximum=65535, value=104)
        self.move = QCheckBox("Retrieve by C-MOVE to our listener (for a PACS without C-GET)")
        self.url = QLineEdit(placeholderText="https://pacs.example.org/dicom-web")
        self.auth = QComboBox()
        for value, words in AUTH_CHOICES:
            self.auth.addItem(words, value)
        self.username = QLineEdit()
        self.secret = QLineEdit(echoMode=QLineEdit.Password, placeholderText="password or token")
        self.verify_tls = QCheckBox("Verify the server's TLS certificate")
        self.pages = QStackedWidget()
        dimse, web = QWidget(), QWidget()
        dimse_form, web_form = QFormLayout(dimse), QFormLayout(web)
        for form in (dimse_form, web_form):
            form.setContentsMargins(0, 0, 0, 0)
        add_rows(dimse_form, (("AE title", self.ae_title), ("Host", self.host), ("Port", self.port), ("", self.move)))
        add_rows(web_form, (("URL", self.url), ("Authentication", self.auth), ("User name", self.username),
                            ("Password / token", self.secret), ("", self.verify_tls)))
        self.pages.addWidget(dimse)
        self.pages.addWidget(web)
        form = QFormLayout(self)
        add_rows(form, (("Name", self.name), ("Protocol", self.protocol)))
        form.addRow(self.pages)
        for line in (self.name, self.ae_title, self.host, self.url, self.username, self.secret):
            line.textEdited.connect(self._store)
        self.port.valueChanged.connect(self._store)
        for box in (self.move, self.verify_tls):
            box.toggled.connect(self._store)
        for combo in (self.protocol, self.auth):
            combo.currentIndexChanged.connect(self._store)
        self.set_node(None)

    def set_node(self, given: Node | None) -> None:
        self.node = None  # loading the fields must not write them back
        self.setEnabled(given is not None)
        node = given or Node()
        self.name.setText(node.name)
        self.protocol.setCurrentIndex(self.protocol.findData(node.kind))
        self.ae_title.setText(node.ae_title)
        self.host.setText(node.host)
        self.port.setValue(node.port or 104)
        self.move.setChecked(node.retrieve_by_move)
        self.url.setText(node.url)
        self.auth.setCurrentIndex(max(0, self.auth.findData(node.auth)))
        self.username.setText(node.username)
        self.secret.setText(node.secret)
        self.verify_tls.setChecked(node.verify_tls)
        self._show_fields()
        self.node = given

    def _show_fields(self) -> None:
        web = self.protocol.currentData() == DICOMWEB
        self.pages.setCurrentIndex(1 if web else 0)
        credentials = self.auth.currentData() != AUTH_NONE
        self.username.setEnabled(self.auth.currentData() == AUTH_BASIC)
        self.secret.setEnabled(credentials)

    def _store(self) -> None:
        self._show_fields()
        node = self.node
        if node is None:
            return
        web = self.protocol.currentData() == DICOMWEB
        node.name = self.name.text().strip()
        node.ae_title, node.host = self.ae_title.text().strip(), self.host.text().strip()
        node.port = self.port.value()
        node.retrieve_by_move = self.move.isChecked() and not web
        # A node is DICOMweb exactly when it has a URL (Node.kind): a DIMSE node keeps none.
        node.url = (self.url.text().strip().rstrip("/") or "https://") if web else ""
        node.auth = self.auth.currentData()
        node.username, node.secret = self.username.text(), self.secret.text()
        node.verify_tls = self.verify_tls.isChecked()
        self.changed.emit()


class PacsSettingsDialog(QDialog):
    """File ▸ PACS ▸ Settings…: edits a copy of the settings; OK checks and saves them."""

    NODE_COLUMNS = ("Name", "Protocol", "Address")

    def __init__(self, controller: PacsController, parent: QWidget | None = None):
        super().__init__(parent, windowTitle="PACS settings")
        self.controller = controller
        self.settings: PacsSettings = copy.deepcopy(controller.settings)
        self._tested: Node | None = None
        self.nodes = table(self.NODE_COLUMNS)
        self.nodes.setSelectionMode(QAbstractItemView.SingleSelection)
        self.nodes.setMinimumHeight(140)
        self.nodes.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.nodes.horizontalHeader().setStretchLastSection(True)
        self.form = NodeForm()
        self.add_dimse_button = QPushButton("Add DIMSE node")
        self.add_web_button = QPushButton("Add DICOMweb node")
        self.remove_button = QPushButton("Remove")
        self.test_button = QPushButton("Test connection")
        self.test_result = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        self.ae_title = QLineEdit(self.settings.local.ae_title, maxLength=16)
        self.listener_port = QSpinBox(minimum=1, maximum=65535, value=self.settings.local.listener_port)
        self.listener_interface = QLineEdit(self.settings.local.listener_interface)
        self.listener_interface.setToolTip("127.0.0.1: this computer only. 0.0.0.0: every network interface.")
        self.allowed = QLineEdit(", ".join(self.settings.local.allowed_calling_aets),
                                 placeholderText="e.g. MODALITY1, CR_ROOM2")
        self.allow_any = QCheckBox("Accept any calling AE title", checked=self.settings.local.allow_any_calling_aet)
        self.timeout = QDoubleSpinBox(minimum=1, maximum=120, decimals=0, suffix=" s",
                                      value=self.settings.local.timeout_s)
        self.problem = QLabel(controller.settings_problem, wordWrap=True, visible=bool(controller.settings_problem))
        show_outcome(self.problem, False, controller.settings_problem)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self._lay_out()
        self._connect()
        for node in self.settings.nodes:
            self._append_row(node)
        if self.settings.nodes:
            self.nodes.selectRow(0)
        self._on_selection()
        self.resize(760, 760)

    def _lay_out(self) -> None:
        node_buttons = QHBoxLayout()
        for button in (self.add_dimse_button, self.add_web_button, self.remove_button):
            node_buttons.addWidget(button)
        node_buttons.addStretch(1)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        nodes_box = QGroupBox("PACS nodes")
        nodes_layout = QVBoxLayout(nodes_box)
        nodes_layout.addWidget(self.nodes)
        nodes_layout.addLayout(node_buttons)
        nodes_layout.addWidget(self.form)
        nodes_layout.addLayout(test_row)
        ours = QGroupBox("This workstation")
        form = QFormLayout(ours)
        form.addRow("Our AE title", self.ae_title)
        form.addRow("Listener port", self.listener_port)
        form.addRow("Listener interface", self.listener_interface)
        form.addRow("Allowed calling AE titles", self.allowed)
        form.addRow("", QLabel("Saved DIMSE nodes may always send to the listener (their answers to C-MOVE)."))
        form.addRow("", self.allow_any)
        form.addRow("Network timeout", self.timeout)
        layout = QVBoxLayout(self)
        layout.addWidget(self.problem)
        layout.addWidget(nodes_box, 1)
        layout.addWidget(ours)
        layout.addWidget(self.buttons)

    def _connect(self) -> None:
        self.nodes.itemSelectionChanged.connect(self._on_selection)
        self.form.changed.connect(self._refresh_row)
        self.add_dimse_button.clicked.connect(lambda: self.add_node(Node(name=self._free_name(), port=104)))
        self.add_web_button.clicked.connect(lambda: self.add_node(Node(name=self._free_name(), url="https://")))
        self.remove_button.clicked.connect(self.remove_node)
        self.test_button.clicked.connect(self.test_connection)
        self.controller.echoFinished.connect(self._on_echo)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    # ------------------------------------------------------------ nodes

    def _free_name(self) -> str:
        names = {node.name for node in self.settings.nodes}
        return next(f"PACS {index}" for index in range(1, len(names) + 2) if f"PACS {index}" not in names)

    def _append_row(self, node: Node) -> None:
        self.nodes.insertRow(self.nodes.rowCount())
        self._fill_row(self.nodes.rowCount() - 1, node)

    def _fill_row(self, row: int, node: Node) -> None:
        protocol = "DICOMweb" if node.kind == DICOMWEB else "DIMSE (C-MOVE)" if node.retrieve_by_move else "DIMSE"
        set_row(self.nodes, row, (node.name, protocol, node.address))

    def selected_node(self) -> Node | None:
        rows = self.nodes.selectionModel().selectedRows()
        return self.settings.nodes[rows[0].row()] if rows else None

    def add_node(self, node: Node) -> None:
        self.settings.nodes.append(node)
        self._append_row(node)
        self.nodes.selectRow(self.nodes.rowCount() - 1)
        self.form.name.setFocus()
        self.form.name.selectAll()

    def remove_node(self) -> None:
        rows = self.nodes.selectionModel().selectedRows()
        if rows:
            del self.settings.nodes[rows[0].row()]
            self.nodes.removeRow(rows[0].row())

    def _on_selection(self) -> None:
        node = self.selected_node()
        self.form.set_node(node)
        self.remove_button.setEnabled(node is not None)
        self.test_button.setEnabled(node is not None)
        self.test_result.clear()

    def _refresh_row(self) -> None:
        rows = self.nodes.selectionModel().selectedRows()
        if rows:
            self._fill_row(rows[0].row(), self.settings.nodes[rows[0].row()])

    # ------------------------------------------------------------ Test connection

    def local_side(self):
        local = copy.copy(self.settings.local)
        local.ae_title = self.ae_title.text().strip()
        local.listener_port = self.listener_port.value()
        local.listener_interface = self.listener_interface.text().strip()
        local.allowed_calling_aets = [title for title in (part.strip() for part in self.allowed.text().split(","))
                                      if title]
        local.allow_any_calling_aet = self.allow_any.isChecked()
        local.timeout_s = self.timeout.value()
        return local

    def test_connection(self) -> None:
        node = self.selected_node()
        if node is None:
            return
        self._tested = copy.deepcopy(node)  # the form may change while the test runs
        self.test_result.setStyleSheet("")
        self.test_result.setText(f"Testing {node.label}… (up to {self.timeout.value():g} s)")
        self.controller.test_connection(self._tested, self.local_side())

    def _on_echo(self, node: Node, ok: bool, words: str) -> None:
        if node is self._tested:
            show_outcome(self.test_result, ok, f"Connected: {words}" if ok else f"Failed: {words}")

    # ------------------------------------------------------------ OK

    def checked_settings(self) -> PacsSettings:
        """The settings as edited; PacsError says what is wrong (a node named, a field)."""
        settings = copy.deepcopy(self.settings)
        settings.local = self.local_side()
        check_ae_title(settings.local.ae_title, "Our AE title")
        for title in settings.local.allowed_calling_aets:
            check_ae_title(title, "Allowed calling AE titles")
        if not settings.local.listener_interface:
            raise PacsError("Listener interface", "give an address, e.g. 127.0.0.1 (this computer only)")
        names = [node.name for node in settings.nodes]
        for node in settings.nodes:
            if not node.name:
                raise PacsError(node.address, "give the node a name (the query dialog lists nodes by name)")
            if names.count(node.name) > 1:
                raise PacsError(node.name, "two nodes have this name")
            node.check()
        return settings

    def accept(self) -> None:
        try:
            self.controller.save_settings(self.checked_settings())
        except PacsError as error:
            QMessageBox.warning(self, "PACS settings", str(error))
            return
        super().accept()


# ------------------------------------------------------------ Query / Retrieve


class QueryDialog(QDialog):
    """File ▸ PACS ▸ Query / Retrieve…: search a node (C-FIND or QIDO-RS) and retrieve the selected
    studies into the local store; the window opens them (PacsController.retrieveFinished)."""

    settingsRequested = pyqtSignal()

    def __init__(self, controller: PacsController, parent: QWidget | None = None):
        super().__init__(parent, windowTitle="Query / Retrieve")
        self.controller = controller
        self.node = node_picker(controller)
        self.settings_button = QPushButton("Settings…")
        self.patient_name = QLineEdit(placeholderText="e.g. DOE^J*  (* and ? match anything)")
        self.patient_id = QLineEdit()
        self.accession = QLineEdit()
        self.modalities = QLineEdit(",".join(DEFAULT_MODALITIES), placeholderText="empty: any modality")
        self.use_dates = QCheckBox("Study date from")
        today = QDate.currentDate()
        self.date_from = QDateEdit(today.addMonths(-1), calendarPopup=True, displayFormat=DATE_FORMAT, enabled=False)
        self.date_to = QDateEdit(today, calendarPopup=True, displayFormat=DATE_FORMAT, enabled=False)
        self.search_button = QPushButton("Search", default=True)
        self.results = table(STUDY_COLUMNS)
        header = self.results.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)
        for column, width in enumerate((220, 150, 95, 200, 90)):
            header.resizeSection(column, width)
        self.results.setSortingEnabled(True)
        self.retrieve_button = QPushButton("Retrieve selected", enabled=False)
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.progress = QProgressBar(visible=False, maximumWidth=220)
        self.status = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        self._lay_out()
        self._connect()
        self._on_nodes_changed()
        self.resize(900, 560)

    def _lay_out(self) -> None:
        node_row = QHBoxLayout()
        node_row.addWidget(self.node, 1)
        node_row.addWidget(self.settings_button)
        dates = QHBoxLayout()
        dates.addWidget(self.use_dates)
        dates.addWidget(self.date_from)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.date_to)
        dates.addStretch(1)
        form = QFormLayout()
        form.addRow("PACS", node_row)
        form.addRow("Patient name", self.patient_name)
        form.addRow("Patient ID", self.patient_id)
        form.addRow("Accession number", self.accession)
        form.addRow("Modalities", self.modalities)
        form.addRow("", dates)
        search_row = QHBoxLayout()
        search_row.addStretch(1)
        search_row.addWidget(self.search_button)
        retrieve_row = QHBoxLayout()
        retrieve_row.addWidget(self.retrieve_button)
        retrieve_row.addWidget(self.cancel_button)
        retrieve_row.addWidget(self.progress)
        retrieve_row.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(search_row)
        layout.addWidget(self.results, 1)
        layout.addLayout(retrieve_row)

    def _connect(self) -> None:
        self.settings_button.clicked.connect(self.settingsRequested)
        self.controller.settingsChanged.connect(self._on_nodes_changed)
        self.use_dates.toggled.connect(self.date_from.setEnabled)
        self.use_dates.toggled.connect(self.date_to.setEnabled)
        for line in (self.patient_name, self.patient_id, self.accession, self.modalities):
            line.returnPressed.connect(self.search)
        self.search_button.clicked.connect(self.search)
        self.results.itemSelectionChanged.connect(self._update_buttons)
        self.results.itemDoubleClicked.connect(lambda _item: self.retrieve())
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button.clicked.connect(self.controller.cancel_retrieve)
        self.controller.found.connect(self._on_found)
        self.controller.searchFailed.connect(self._on_search_failed)
        self.controller.retrieveProgress.connect(self._on_progress)
        self.controller.retrieveFinished.connect(self._on_retrieved)

    def _on_nodes_changed(self) -> None:
        has_nodes = self.node.count() > 0
        self.search_button.setEnabled(has_nodes)
        if not has_nodes or self.status.text() == NO_NODE:
            self.status.setText("" if has_nodes else NO_NODE)

    def selected_node(self) -> Node | None:
        return self.controller.node_named(self.node.currentText())

    def query(self) -> StudyQuery:
        """The form as a query; ValueError says what to correct."""
        study_date = ""
        if self.use_dates.isChecked():
            first, last = self.date_from.date(), self.date_to.date()
            if first > last:
                raise ValueError("the first study date comes after the second")
            study_date = f"{first.toString('yyyyMMdd')}-{last.toString('yyyyMMdd')}"
        return StudyQuery(patient_name=self.patient_name.text().strip(), patient_id=self.patient_id.text().strip(),
                          study_date=study_date, modalities=parse_modalities(self.modalities.text()),
                          accession=self.accession.text().strip())

    def search(self) -> None:
        node = self.selected_node()
        if node is None:
            self.status.setText(NO_NODE)
            return
        try:
            query = self.query()
        except ValueError as error:
            show_outcome(self.status, False, str(error))
            return
        self.status.setStyleSheet("")
        self.status.setText(f"Searching {node.label}…")
        self.controller.search(node, query)

    def _on_found(self, rows: list[StudyRow]) -> None:
        self.results.setSortingEnabled(False)
        self.results.setRowCount(len(rows))
        for index, row in enumerate(rows):
            images = "" if row.images is None else row.images
            set_row(self.results, index, (row.patient_name.replace("^", " ").strip(), row.patient_id,
                                          format_study_date(row.study_date), row.description,
                                          ", ".join(row.modalities), images), row)
        self.results.setSortingEnabled(True)
        self.status.setText(f"{count_words(len(rows), 'study', 'studies')} found.")
        self._update_buttons()

    def _on_search_failed(self, words: str) -> None:
        show_outcome(self.status, False, f"Search failed: {words}")

    def selected_rows(self) -> list[StudyRow]:
        rows = sorted({index.row() for index in self.results.selectionModel().selectedRows()})
        return [self.results.item(row, 0).data(ROW_ROLE) for row in rows]

    def retrieve(self) -> None:
        node, rows = self.selected_node(), self.selected_rows()
        if node is None or not rows:
            return
        if not self.controller.retrieve(node, rows, move=node.retrieve_by_move):
            return
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.status.setStyleSheet("")
        self.status.setText(f"Retrieving {count_words(len(rows), 'study', 'studies')} from {node.label}…")
        self._update_buttons()

    def _on_progress(self, words: str, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(f"{words}: {done} of {total} objects" if total else f"{words}…")

    def _on_retrieved(self, folders: list[Path], summary: str) -> None:
        self.progress.setVisible(False)
        show_outcome(self.status, bool(folders), summary)
        self._update_buttons()

    def _update_buttons(self) -> None:
        retrieving = self.controller.retrieving
        self.retrieve_button.setEnabled(not retrieving and bool(self.results.selectionModel().selectedRows()))
        self.cancel_button.setEnabled(retrieving)


# ------------------------------------------------------------ Send results


class SendResultsDialog(QDialog):
    """File ▸ PACS ▸ Send results…: the images chosen, where to send their SR and secondary capture (and
    the reader's saved measurements and key-image mark), and then what became of each."""

    OUTCOME_COLUMN = 1

    def __init__(self, controller: PacsController, paths: list[Path], analyses: dict[Path, ImageAnalysis],
                 image_for: Callable[[Path], XRayImage], parent: QWidget | None = None,
                 reading_files: ReadingFiles | None = None, with_maps: WithMaps | None = None):
        """`analyses`: the results known now (read on a worker); `image_for`: a thread-safe path -> image;
        `reading_files`: (what, file) of the reader's saved work on an image (ReadingArchive.files_to_send);
        `with_maps`: the maps of an AI node's answer, computed on the worker (Analyser.with_maps)."""
        super().__init__(parent, windowTitle="Send results to PACS")
        self.controller = controller
        self.paths, self.analyses, self.image_for, self.reading_files = paths, analyses, image_for, reading_files
        self.with_maps = with_maps
        self.node = node_picker(controller)
        self.images = table(("Image", "Outcome"))
        self.images.setRowCount(len(paths))
        for row, path in enumerate(paths):
            set_row(self.images, row, (path.name, "to send" if path in analyses else
                                       "not analysed yet: the reader's measurements and key mark only"), path)
        self.images.horizontalHeader().resizeSection(0, 300)
        self.send_button = QPushButton("Send", default=True, enabled=self.node.count() > 0)
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.close_button = QPushButton("Close")
        self.progress = QProgressBar(visible=False, maximumWidth=220)
        self.status = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        if not self.node.count():
            self.status.setText(NO_NODE)
        buttons = QHBoxLayout()
        for widget in (self.send_button, self.cancel_button, self.progress):
            buttons.addWidget(widget)
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.close_button)
        form = QFormLayout()
        form.addRow("Send to", self.node)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("A DICOM Structured Report and a secondary capture (the image with the AI overlay, "
                                "marked not for diagnosis) per analysed DICOM image, and the reader's saved "
                                "measurements and key-image mark, in the image's study.",
                                wordWrap=True))
        layout.addWidget(self.images, 1)
        layout.addLayout(buttons)
        self.send_button.clicked.connect(self.send)
        self.cancel_button.clicked.connect(controller.cancel_send)
        self.close_button.clicked.connect(self.close)
        controller.sendProgress.connect(self._on_progress)
        controller.sendFinished.connect(self._on_finished)
        controller.sendFailed.connect(self._on_failed)
        self.resize(640, 420)

    def send(self) -> None:
        node = self.controller.node_named(self.node.currentText())
        if node is None or not self.controller.send_results(node, self.paths, self.analyses, self.image_for,
                                                            self.reading_files, self.with_maps):
            return
        self.send_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.status.setStyleSheet("")
        self.status.setText(f"Sending to {self.node.currentText()}…")

    def _on_progress(self, words: str, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(f"{words}: {done} of {total}")

    def _on_finished(self, outcomes: list[ImageOutcome]) -> None:
        for outcome in outcomes:
            row = self.paths.index(outcome.path)
            item = self.images.item(row, self.OUTCOME_COLUMN)
            item.setText(outcome.message)
            item.setToolTip(outcome.message)
            item.setForeground(QBrush(QColor(OK_COLOUR if outcome.ok else FAILED_COLOUR)))
        sent = sum(outcome.ok for outcome in outcomes)
        # Sending again would store a second copy of each result: a new send starts from the menu.
        self._done(sent > 0, f"Results of {sent} of {len(outcomes)} image{'' if len(outcomes) == 1 else 's'} sent.",
                   can_retry=False)

    def _on_failed(self, words: str) -> None:
        self._done(False, f"Nothing sent: {words}", can_retry=True)

    def _done(self, ok: bool, words: str, can_retry: bool) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setEnabled(False)
        self.send_button.setEnabled(can_retry)
        show_outcome(self.status, ok, words)
