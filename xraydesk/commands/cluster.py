"""`predict --scheduler ADDRESS` / `--workers N`: the per-image work of a batch on a Dask distributed
cluster (xraydesk.jobs.cluster). Each worker process loads the model once; chunks of paths go out a few
per worker at a time and their rows come back to the one CSV writer in input order."""

from collections import deque
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from xraydesk.commands.batch import HeatmapWriter, predict_rows
from xraydesk.commands.common import Progress
from xraydesk.jobs.cluster import chunks_in_flight, worker_model
from xraydesk.jobs.pipeline import BATCH_SIZE

# A multiple of BATCH_SIZE, so a worker forms the batches a single process would (same figures).
CHUNK = 2 * BATCH_SIZE  # a task is ~1 s of work: dask's few ms per task are noise


def analyse_chunk(paths: list[Path], models: Path | None, heatmaps: Path | None) -> list[dict]:
    """Runs on a worker."""
    model = worker_model(models)
    return list(predict_rows(model, paths, None, HeatmapWriter(heatmaps) if heatmaps else None))


def _absolute(path: Path | None) -> Path | None:
    return path.resolve() if path else None


def cluster_rows(client, paths: list[Path], models: Path | None, heatmaps: Path | None,
                 progress: Progress) -> Iterator[dict]:
    """One row per path, in the order given. Paths go out absolute (a worker's working folder is
    its own)."""
    chunks = (paths[start:start + CHUNK] for start in range(0, len(paths), CHUNK))

    def submit(chunk: list[Path]):
        return chunk, client.submit(analyse_chunk, [path.absolute() for path in chunk], _absolute(models),
                                    _absolute(heatmaps), pure=False)

    pending = deque(submit(chunk) for chunk in islice(chunks, chunks_in_flight(client)))
    while pending:
        chunk, future = pending.popleft()
        rows = future.result()
        pending.extend(submit(chunk) for chunk in islice(chunks, 1))
        progress.advance(len(rows))
        yield from (_as_given(row, path, heatmaps) for path, row in zip(chunk, rows))


def _as_given(row: dict, path: Path, heatmaps: Path | None) -> dict:
    """A worker's row with the paths a single process would write: the input's and the heatmap's
    as the command line gave their folders (the worker saw them absolute)."""
    heatmap = {"heatmap": str(heatmaps / Path(row["heatmap"]).name)} if row.get("heatmap") else {}
    return {**row, "path": str(path), **heatmap}
