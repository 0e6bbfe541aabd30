"""Background work off the UI thread. A Worker runs one task in its own QThread and reports
through started / yielded / returned / errored / finished signals; exceptions are caught inside
run() and emitted, never raised into Qt (Spyder/napari style)."""

import threading
from collections.abc import Callable
from typing import Any

from PyQt5.QtCore import QObject, Qt, QThread, pyqtSignal

# A task gets `report(item)` to send intermediate results (emitted as `yielded`) and
# `should_stop()` to poll for cancellation; its return value is emitted as `returned`.
Task = Callable[[Callable[[Any], None], Callable[[], bool]], Any]


class Worker(QObject):
    started = pyqtSignal()
    yielded = pyqtSignal(object)
    returned = pyqtSignal(object)
    errored = pyqtSignal(object)
    finished = pyqtSignal()

    def __init__(self, task: Task):
        super().__init__()
        self._task = task
        self._stop_requested = threading.Event()

    def request_stop(self) -> None:
        self._stop_requested.set()

    def should_stop(self) -> bool:
        return self._stop_requested.is_set()

    def run(self) -> None:
        self.started.emit()
        try:
            self.returned.emit(self._task(self.yielded.emit, self.should_stop))
        except Exception as exc:  # reported to the UI, which shows the message
            self.errored.emit(exc)
        finally:
            self.finished.emit()


class WorkerPool(QObject):
    """Owns running workers and their threads until they finish (a QThread collected while
    running aborts the process), and stops them all on shutdown."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running: dict[Worker, QThread] = {}
        self._shut_down = False

    def start(self, worker: Worker) -> Worker:
        """Runs the worker in a new thread; after shutdown() (late signals of a closing window)
        the worker is not started."""
        if self._shut_down:
            return worker
        thread = QThread()
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Direct, so that the thread ends even while the UI thread is blocked in wait().
        worker.finished.connect(thread.quit, Qt.DirectConnection)
        thread.finished.connect(lambda: self._forget(worker))
        self._running[worker] = thread
        thread.start()
        return worker

    def _forget(self, worker: Worker) -> None:
        thread = self._running.pop(worker, None)
        if thread is not None:
            thread.wait()
            thread.deleteLater()
            worker.deleteLater()

    def stop(self, worker: Worker) -> None:
        worker.request_stop()

    def is_idle(self) -> bool:
        return not self._running

    def shutdown(self, timeout_ms: int = 10_000, join: bool = True) -> None:
        """Stops every worker; `join`: and waits for them. Without joining, the threads (a model
        load or an analysis cannot be interrupted) stay referenced here until the process ends."""
        self._shut_down = True
        for worker, thread in list(self._running.items()):
            worker.request_stop()
            if join:
                thread.wait(timeout_ms)
                self._forget(worker)
