"""Worker and WorkerPool: results, exceptions as signals, cancellation, no thread left behind."""

import threading

import pytest

from xraydesk.ui.workers import Worker, WorkerPool


@pytest.fixture
def pool(qtbot):
    workers = WorkerPool()
    yield workers
    workers.shutdown()


def test_worker_reports_items_and_returns_its_result_off_the_ui_thread(qtbot, pool):
    ui_thread = threading.get_ident()
    worker = Worker(lambda report, should_stop: [report(n) for n in range(3)] and threading.get_ident())
    items = []
    worker.yielded.connect(items.append)
    with qtbot.waitSignals([worker.started, worker.returned, worker.finished], timeout=10_000) as blocker:
        pool.start(worker)
    qtbot.waitUntil(pool.is_idle)
    assert items == [0, 1, 2]
    assert blocker.all_signals_and_args[1].args[0] != ui_thread


def test_exception_in_task_is_emitted_not_raised(qtbot, pool):
    def fail(report, should_stop):
        raise ValueError("broken file")

    worker = Worker(fail)
    with qtbot.waitSignal(worker.errored, timeout=10_000) as blocker:
        pool.start(worker)
    qtbot.waitUntil(pool.is_idle)
    assert isinstance(blocker.args[0], ValueError) and str(blocker.args[0]) == "broken file"


def test_shutdown_stops_a_long_task(qtbot, pool):
    started = threading.Event()

    def long_task(report, should_stop):
        started.set()
        while not should_stop():
            threading.Event().wait(0.01)
        return "stopped"

    pool.start(Worker(long_task))
    assert started.wait(10)
    pool.shutdown()
    assert pool.is_idle()


def test_quitting_does_not_wait_for_work_that_cannot_be_interrupted(qtbot, pool):
    """Ctrl+Q in the app: an analysis or model load in progress ignores should_stop; the pool stops
    asking and leaves it to the process's end instead of holding the quit for seconds."""
    release, started = threading.Event(), threading.Event()
    worker = Worker(lambda report, should_stop: started.set() or release.wait(10))
    pool.start(worker)
    assert started.wait(10)
    pool.shutdown(join=False)  # returns although the task is still running
    assert worker.should_stop() and not pool.is_idle()
    release.set()
    pool.shutdown()  # the test itself leaves no thread behind
    assert pool.is_idle()
