"""What every command line shares: its exit codes, its progress bar, its rule for output paths and its
stop on a signal."""

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

# Each command's --help epilog says what they mean for it.
EXIT_OK = 0  # everything done (predict: every input analysed or rejected by the input check)
EXIT_SOME_FAILED = 1  # a partial result: some inputs unreadable or files failed (predict: their rows say why)
EXIT_UNUSABLE = 2  # the model, the cluster or the node is unavailable; also argparse's usage errors
EXIT_OUTPUT_FAILED = 3  # the output could not be written (predict: nor resumed); nothing written
EXIT_INTERRUPTED = 130  # Ctrl+C (predict: the rows done so far are in the CSV)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl+C or a service manager's SIGTERM sets `stop` (`pacs listen`, `serve` end cleanly), also where
    SIGINT was ignored on start (a background job of a shell). The main thread must wait on `stop` with a
    timeout, so that the handler runs promptly."""
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = [signal.signal(number, lambda _signal, _frame: stop.set()) for number in handled]
    try:
        yield
    finally:
        for number, handler in zip(handled, previous):
            signal.signal(number, handler)


class OutputError(Exception):
    """The output cannot be written where asked; str() is the one line said to the user."""


class Progress:
    """A one-line progress bar with ETA on stderr."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.stream, self.start = total, 0, stream, time.perf_counter()
        self.closed = False

    def advance(self, count: int = 1) -> None:
        self.done += count
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        filled = int(30 * self.done / max(self.total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} "
                          f"{elapsed:.0f}s elapsed, ETA {eta:.0f}s ")
        self.stream.flush()

    def close(self) -> None:
        """Ends the bar's line (once: a summary may follow it before the run's last words)."""
        if not self.closed:
            self.stream.write("\n")
            self.closed = True


def _inside(path: Path, folder: Path) -> bool:
    """Whether the scan of `folder` would reach `path` (it skips names starting with a dot)."""
    try:
        relative = Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
    except ValueError:
        return False
    return not any(part.startswith(".") for part in relative.parts)


def check_not_inputs(outputs: Iterable[Path | None], arguments: list[str]) -> None:
    """No output may overwrite an input, nor land where this run's scan (or a later `--resume`) would
    read it as an input."""
    for output in filter(None, outputs):
        for argument in map(Path, arguments):
            if os.path.realpath(output) == os.path.realpath(argument):
                raise OutputError(f"{output} is one of the inputs; write the output elsewhere")
            if argument.is_dir() and _inside(output, argument):
                raise OutputError(f"{output} lies inside the scanned folder {argument}; it would be read as an "
                                  "input: write the output elsewhere")
