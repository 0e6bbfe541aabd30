"""The AI node's durable queue: one SQLite database in WAL mode in the node's store (no server to run),
committed with synchronous=FULL, so that a change the node has made is on disk when the call returns.

An object's life: RECEIVED (on disk, acknowledged to its sender) -> ANALYSED (its results written:
an SR, and a secondary capture unless refused; one delivery per destination waits) -> SENT (every
destination has its results). FAILED: no result could be made (the reason says why); SKIPPED: one of
XRayDesk's own results, sent back to the node, is not analysed. A delivery that did not go through
stays, with the error and the time of its next try. The same object received again after it was
done is analysed and sent again; its results keep their UIDs, so the destination gets no duplicate."""

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

RECEIVED, ANALYSED, SENT, FAILED, SKIPPED = "received", "analysed", "sent", "failed", "skipped"
STATES = (RECEIVED, ANALYSED, SENT, FAILED, SKIPPED)
DONE = (SENT, FAILED, SKIPPED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,  -- the received file
    sop_uid TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',  -- FAILED, SKIPPED: why; ANALYSED, SENT: the input check's refusal, if any
    model TEXT NOT NULL DEFAULT '',  -- the model version of the results
    results TEXT NOT NULL DEFAULT '',  -- the result files, one per line
    received_at REAL NOT NULL,
    changed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_by_state ON objects (state, id);
CREATE TABLE IF NOT EXISTS deliveries (  -- the results of an ANALYSED object not yet at a destination
    object_id INTEGER NOT NULL REFERENCES objects (id),
    destination TEXT NOT NULL,
    due REAL NOT NULL,  -- not tried before then (seconds since the epoch)
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',  -- why the last try failed
    PRIMARY KEY (object_id, destination)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (destination, due);
"""


class QueueError(Exception):
    """The queue cannot be opened or read; str() names the file and the reason."""


@dataclass(frozen=True)
class Waiting:
    """A received object to analyse."""
    object_id: int
    path: Path


@dataclass(frozen=True)
class Delivery:
    object_id: int
    files: tuple[Path, ...]
    attempts: int


@dataclass(frozen=True)
class Finished:
    """An object done with: its files may go."""
    object_id: int
    path: Path


@dataclass(frozen=True)
class Backlog:
    """Deliveries waiting for one destination, for --status."""
    destination: str
    count: int
    next_try: float
    error: str


def _files(results: str) -> tuple[Path, ...]:
    return tuple(Path(line) for line in results.splitlines())


class NodeQueue:
    """Thread-safe: the listener's threads add objects while the analysis and the senders move them on."""

    def __init__(self, path: Path, *, create: bool = True):
        self.path = path
        if not create and not path.exists():
            raise QueueError(f"{path}: no queue here (is this the --store of an xraydesk serve?)")
        try:
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise QueueError(f"{path}: cannot open the queue ({error})") from error
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, statements: Iterable[tuple[str, Sequence]]) -> None:
        with self._lock:
            self._transaction(statements)

    def _transaction(self, statements: Iterable[tuple[str, Sequence]]) -> list[list[tuple]]:
        """The statements as one transaction, on disk when this returns (the caller holds the lock);
        the rows each gave."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = [self._db.execute(sql, parameters).fetchall() for sql, parameters in statements]
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return rows

    def _read(self, sql: str, parameters: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    # ------------------------------------------------------------------ the receiver

    def receive(self, path: Path, sop_uid: str) -> None:
        """Records an object now on disk. Raises OSError when it cannot be recorded (the sender is then
        refused, and sends it again): an object is acknowledged only once it is queued."""
        now = time.time()
        upsert = ("INSERT INTO objects (path, sop_uid, state, received_at, changed_at) VALUES (?, ?, ?, ?, ?) "
                  "ON CONFLICT (path) DO UPDATE SET state = excluded.state, reason = '', model = '', results = '', "
                  "received_at = excluded.received_at, changed_at = excluded.changed_at "
                  f"WHERE state IN ({', '.join('?' * len(DONE))})")
        with self._lock:
            if not path.exists():  # done with and removed as it was stored again (discard): stored by the next try
                raise OSError(f"{path.name} was being removed as it came again")
            try:
                self._transaction([(upsert, (str(path), sop_uid, RECEIVED, now, now, *DONE))])
            except sqlite3.Error as error:
                raise OSError(f"the queue {self.path} cannot record it ({error})") from error

    # ------------------------------------------------------------------ the analysis

    def waiting(self, limit: int, leave_out: Iterable[int] = ()) -> list[Waiting]:
        """The oldest received objects, but those in `leave_out` (in hand already)."""
        leave_out = set(leave_out)
        rows = self._read("SELECT id, path FROM objects WHERE state = ? ORDER BY id LIMIT ?",
                          (RECEIVED, limit + len(leave_out)))
        return [Waiting(object_id, Path(path)) for object_id, path in rows if object_id not in leave_out][:limit]

    def analysed(self, object_id: int, files: Sequence[Path], model: str, refusal: str,
                 destinations: Sequence[str]) -> None:
        now = time.time()
        self._write([
            ("UPDATE objects SET state = ?, reason = ?, model = ?, results = ?, changed_at = ? WHERE id = ?",
             (ANALYSED, refusal, model, "\n".join(map(str, files)), now, object_id)),
            *(("INSERT OR REPLACE INTO deliveries (object_id, destination, due) VALUES (?, ?, ?)",
               (object_id, destination, now)) for destination in destinations)])

    def set_aside(self, object_id: int, state: str, reason: str) -> None:
        """FAILED or SKIPPED, with the reason."""
        self._write([("UPDATE objects SET state = ?, reason = ?, changed_at = ? WHERE id = ?",
                      (state, reason, time.time(), object_id))])

    # ------------------------------------------------------------------ the senders

    def due(self, destination: str, limit: int) -> list[Delivery]:
        rows = self._read(
            "SELECT d.object_id, o.results, d.attempts FROM deliveries d JOIN objects o ON o.id = d.object_id "
            "WHERE d.destination = ? AND d.due <= ? ORDER BY d.due, d.object_id LIMIT ?",
            (destination, time.time(), limit))
        return [Delivery(object_id, _files(results), attempts) for object_id, results, attempts in rows]

    def next_due(self, destination: str) -> float | None:
        """When the next delivery to `destination` is due (None: none waits)."""
        return self._read("SELECT MIN(due) FROM deliveries WHERE destination = ?", (destination,))[0][0]

    def delivered(self, object_ids: Sequence[int], destination: str) -> list[int]:
        """Records deliveries made; returns the objects now SENT to every destination."""
        marks = ", ".join("?" * len(object_ids))
        finished_where = (f"id IN ({marks}) AND state = ? AND NOT EXISTS "
                          "(SELECT 1 FROM deliveries WHERE object_id = objects.id)")
        with self._lock:
            _, finished, _ = self._transaction([
                (f"DELETE FROM deliveries WHERE destination = ? AND object_id IN ({marks})", (destination, *object_ids)),
                (f"SELECT id FROM objects WHERE {finished_where}", (*object_ids, ANALYSED)),
                (f"UPDATE objects SET state = ?, changed_at = ? WHERE {finished_where}",
                 (SENT, time.time(), *object_ids, ANALYSED))])
        return [object_id for (object_id,) in finished]

    def discard(self, object_ids: Sequence[int], state: str, remove: Callable[[Finished], None]) -> None:
        """`remove` for each object still in `state` (SENT, SKIPPED), under the lock receive() takes: an
        object received again as its files go is either queued anew or refused (and sent again), never lost."""
        with self._lock:
            rows = self._db.execute(f"SELECT id, path FROM objects WHERE state = ? AND id IN "
                                    f"({', '.join('?' * len(object_ids))})", (state, *object_ids)).fetchall()
            for object_id, path in rows:
                remove(Finished(object_id, Path(path)))

    def try_all_now(self) -> None:
        """At start: every delivery waiting is due (the destination's earlier failures say nothing of now)."""
        self._write([("UPDATE deliveries SET due = MIN(due, ?)", (time.time(),))])

    def postpone(self, destination: str, retries: dict[int, tuple[float, str]]) -> None:
        """Deliveries that failed: object id -> (when to try again, why)."""
        retry = "UPDATE deliveries SET due = ?, error = ?, attempts = attempts + 1 WHERE object_id = ? AND destination = ?"
        self._write([(retry, (due, error, object_id, destination)) for object_id, (due, error) in retries.items()])

    def postpone_all(self, destination: str, due: float, error: str) -> None:
        """The destination is down: nothing goes to it before `due`."""
        self._write([("UPDATE deliveries SET due = MAX(due, ?), error = ? WHERE destination = ?",
                      (due, error, destination))])

    # ------------------------------------------------------------------ --status

    def counts(self) -> dict[str, int]:
        counted = dict(self._read("SELECT state, COUNT(*) FROM objects GROUP BY state"))
        return {state: counted.get(state, 0) for state in STATES}

    def set_aside_objects(self, state: str, limit: int) -> list[tuple[Path, str]]:
        """The latest FAILED (or SKIPPED) objects with their reasons."""
        rows = self._read("SELECT path, reason FROM objects WHERE state = ? ORDER BY changed_at DESC LIMIT ?",
                          (state, limit))
        return [(Path(path), reason) for path, reason in rows]

    def sent_times(self) -> dict[str, float]:
        """When each SENT object's results reached the last destination, by SOP Instance UID."""
        return dict(self._read("SELECT sop_uid, changed_at FROM objects WHERE state = ?", (SENT,)))

    def backlog(self) -> list[Backlog]:
        rows = self._read(
            "SELECT destination, COUNT(*), MIN(due), (SELECT error FROM deliveries e WHERE e.destination = "
            "d.destination AND e.error != '' ORDER BY e.due DESC LIMIT 1) FROM deliveries d GROUP BY destination "
            "ORDER BY destination")
        return [Backlog(destination, count, next_try, error or "") for destination, count, next_try, error in rows]
