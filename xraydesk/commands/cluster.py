"""`predict --scheduler ADDRESS` / `--workers N`: the per-image work of a batch on a Dask distributed
cluster (an existing one, or a LocalCluster of N processes here). Each worker process loads the model
once; chunks of paths go out a few per worker at a time and their rows come back to the one CSV writer
in input order. Dask is the optional extra `cluster`: imported only here, only when asked for."""

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from itertools import islice
from pathlib import Path

from xraydesk.commands.batch import BATCH_SIZE, HeatmapWriter, predict_rows
from xraydesk.commands.common import Progress

# A multiple of BATCH_SIZE, so a worker forms the batches a single process would (same figures).
CHUNK = 2 * BATCH_SIZE  # a task is ~1 s of work: dask's few ms per task are noise
CHUNKS_IN_FLIGHT_PER_WORKER = 2  # one running, one queued: workers never wait, memory stays bounded


class ClusterUnavailableError(Exception):
    pass


@lru_cache(maxsize=1)
def _worker_model(models: Path | None, heatmaps: Path | None):
    """The model (and heatmap writer) of this worker process, loaded by its first chunk."""
    from xraydesk.ai.gradcam import GradCam
    from xraydesk.ai.model import ChestXRayModel

    model = ChestXRayModel.load(models)
    return model, HeatmapWriter(GradCam.from_metadata(model.classifier, model.metadata), heatmaps) if heatmaps else None


def analyse_chunk(paths: list[Path], models: Path | None, heatmaps: Path | None) -> list[dict]:
    """Runs on a worker."""
    model, heatmap_writer = _worker_model(models, heatmaps)
    return list(predict_rows(model, paths, None, heatmap_writer))


@contextmanager
def cluster_client(scheduler: str | None, workers: int | None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as error:
        raise ClusterUnavailableError("--scheduler and --workers need Dask: pip install 'xraydesk[cluster]'") from error
    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as error:
            raise ClusterUnavailableError(f"no Dask scheduler answers at {scheduler} ({error})") from error
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True) as cluster, Client(cluster) as client:
        yield client


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

    in_flight = CHUNKS_IN_FLIGHT_PER_WORKER * max(1, len(client.scheduler_info()["workers"]))
    pending = deque(submit(chunk) for chunk in islice(chunks, in_flight))
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
