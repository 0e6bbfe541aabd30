"""Analysis on a Dask distributed cluster (an existing one, or a LocalCluster of N processes here), for
`predict --scheduler / --workers` and `serve --scheduler / --workers`: the client, the model each worker
process loads once, and how much work may be out at a time. Dask is the optional extra `cluster`:
imported only here, only when asked for."""

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

CHUNKS_IN_FLIGHT_PER_WORKER = 2  # one running, one queued: workers never wait, memory stays bounded


class ClusterUnavailableError(Exception):
    pass


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


def chunks_in_flight(client) -> int:
    """How many chunks may be submitted and not yet collected: enough to keep every worker busy."""
    return CHUNKS_IN_FLIGHT_PER_WORKER * max(1, len(client.scheduler_info()["workers"]))


@lru_cache(maxsize=1)
def worker_model(models: Path | None):
    """The model of this worker process, loaded (and its functions traced) by its first chunk."""
    from xraydesk.ai.analysis import warm_up
    from xraydesk.ai.model import ChestXRayModel

    model = ChestXRayModel.load(models)
    warm_up(model)
    return model


def load_worker_model(models: Path | None) -> str:
    """Loads this worker's model now (run on every worker as the node starts: a model missing there fails
    the start, not the first films); its version (the model itself stays in the worker)."""
    return worker_model(models).version
