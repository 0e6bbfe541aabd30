"""`xraydesk predict` throughput in one process vs on a Dask LocalCluster of 2 worker processes,
and the peak memory of each process. Models are loaded and warm before timing (the figure is the
steady rate of an archive-scale run, not start-up). On a 2-core machine the cluster cannot be
faster; what to watch is that its overhead is small (>= 80% of the single-process rate).
Needs the extra: pip install 'xraydesk[cluster]'.
Run: python bench/bench_cluster.py [--images 500]"""

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
DATA_DIR = Path(os.environ.get("XRAYDESK_DATA") or REPO_ROOT / ".." / "shared" / "data").resolve()

from xraydesk.commands import cluster
from xraydesk.commands.batch import predict_rows
from xraydesk.commands.common import Progress


def peak_memory_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux


def rate(rows, count: int) -> float:
    start = time.perf_counter()
    produced = sum(1 for _ in rows)
    assert produced == count
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    args = parser.parse_args()
    from dask.distributed import Client, LocalCluster

    from xraydesk.ai.model import ChestXRayModel

    with tempfile.TemporaryDirectory() as folder:
        sources = sorted((DATA_DIR / "cxr" / "images").glob("*/*.png"))[:: 7][: args.images]
        paths = []
        for index, source in enumerate(sources):
            paths.append(Path(folder) / f"{index:05d}.png")
            paths[-1].symlink_to(source)
        model = ChestXRayModel.load()
        list(predict_rows(model, paths[:16]))  # warm: the first batch traces the model's functions
        single = rate(predict_rows(model, paths), len(paths))
        single_memory = peak_memory_gb()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as local, Client(local) as client:
            warm = [client.submit(cluster.analyse_chunk, paths[:16], None, None, pure=False, workers=[address])
                    for address in client.scheduler_info()["workers"]]
            client.gather(warm)
            with open(os.devnull, "w") as quiet:
                on_cluster = rate(cluster.cluster_rows(client, paths, None, None, Progress(len(paths), quiet)), len(paths))
            worker_memory = client.run(peak_memory_gb)
    print(f"{len(paths)} shared PNGs, {os.cpu_count()} cores")
    print(f"1 process:               {single:6.1f} images/s, peak memory {single_memory:.2f} GB")
    print(f"LocalCluster(2 workers): {on_cluster:6.1f} images/s ({on_cluster / single:.0%} of 1 process), "
          f"peak memory per worker {', '.join(f'{gb:.2f}' for gb in worker_memory.values())} GB")


if __name__ == "__main__":
    main()
