"""`xraydesk serve` end to end, as tests/pacs/test_serve.py runs it: the node as a process of its own,
two pynetdicom senders, a throw-away Orthanc on loopback as the destination. Prints
- throughput: films/s from the first C-STORE until every film's results are in Orthanc (--images films
  pushed as fast as two senders go), with the node's RSS (start, largest, end) sampled every second;
- latency: the median and largest time from a film's C-STORE until its results are in Orthanc, one film
  a second (--latency-films of them);
- where an analysis process spends its time per film, stage by stage (here, after the node stopped).
Films are copies of the shared RSNA films under new UIDs, reduced to --side pixels (1024: their own size),
uncompressed. Targets (issue 17, 2 cores, one analysis process): >= 20 films/s, median latency <= 2 s at
1 film/s, memory flat over 2,000 films. Needs Debian's orthanc.
Run: python bench/bench_serve.py [--images 500] [--latency-films 30] [--side 1024] [--workers N]"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests" / "pacs"))
DATA_DIR = Path(os.environ.get("XRAYDESK_DATA") or REPO_ROOT / ".." / "shared" / "data").resolve()

from ai_node import NodeProcess, node_films, push, sop_uid  # the tests' helpers, on the path set above
from orthanc_server import OrthancServer, free_port

from xraydesk.jobs.node import NodeStore
from xraydesk.jobs.queue import ANALYSED, RECEIVED, NodeQueue


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def finished(store: NodeStore) -> int:
    """Objects the node is done with (sent, failed or skipped)."""
    queue = NodeQueue(store.queue_path)
    try:
        counts = queue.counts()
    finally:
        queue.close()
    return sum(counts.values()) - counts[RECEIVED] - counts[ANALYSED]


def sent_at(store: NodeStore) -> dict[str, float]:
    """When each object's results were all in the destination (the queue's time of SENT)."""
    queue = NodeQueue(store.queue_path)
    try:
        return queue.sent_times()
    finally:
        queue.close()


def throughput(node: NodeProcess, films: list[Path]) -> None:
    store = NodeStore(node.store)
    already = finished(store)
    samples: list[tuple[int, float]] = []  # (films done, RSS)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1):
            samples.append((finished(store) - already, rss_mib(node.process.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    start_rss = rss_mib(node.process.pid)
    sampler.start()
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as senders:
        statuses = [status for half in senders.map(lambda half: push(half, node.port), (films[0::2], films[1::2]))
                    for status in half.values()]
    pushed = time.perf_counter()
    if any(statuses):
        print(f"{sum(map(bool, statuses))} films refused by the node")
    while finished(store) < already + len(films):
        node.check_running()
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    print(f"throughput: {len(films)} films in {seconds:.1f} s = {len(films) / seconds:.1f} films/s end to end "
          f"(pushed in {pushed - start:.1f} s = {len(films) / (pushed - start):.1f} films/s received)")
    quarters = [next((rss for done, rss in samples if done >= len(films) * quarter / 4), samples[-1][1] if samples else start_rss)
                for quarter in range(1, 5)]
    print(f"node RSS: {start_rss:.0f} MiB at the start; after 1/4, 2/4, 3/4, 4/4 of the films "
          f"{', '.join(f'{rss:.0f}' for rss in quarters)} MiB; largest {max((rss for _, rss in samples), default=start_rss):.0f} MiB")


def latency(node: NodeProcess, films: list[Path]) -> None:
    store = NodeStore(node.store)
    pushed_at = {}
    for film in films:
        pushed_at[sop_uid(film)] = time.time()
        push([film], node.port)
        time.sleep(max(0.0, 1.0 - (time.time() - pushed_at[sop_uid(film)])))
    deadline = time.monotonic() + 300
    while not set(pushed_at) <= set(done := sent_at(store)) and time.monotonic() < deadline:
        node.check_running()
        time.sleep(0.5)
    delays = sorted(done[uid] - pushed_at[uid] for uid in pushed_at if uid in done)
    print(f"latency at 1 film/s ({len(delays)} films): median {statistics.median(delays):.2f} s, "
          f"largest {delays[-1]:.2f} s (C-STORE sent -> SR and SC stored in Orthanc)")


def stages(films: list[Path]) -> None:
    """Where an analysis process spends its time per film, stage by stage (a batch of 16, model warm)."""
    from xraydesk.ai.analysis import warm_up
    from xraydesk.ai.model import ChestXRayModel
    from xraydesk.dicom_results import write_datasets
    from xraydesk.dicom_results.secondary_capture import secondary_capture
    from xraydesk.dicom_results.structured_report import structured_report
    from xraydesk.jobs.pipeline import analyse, dicom_source, image_analysis, prepare

    model = ChestXRayModel.load(None)
    warm_up(model)
    times = {}

    def timed(stage: str, step):
        start = time.perf_counter()
        result = step()
        times[stage] = (time.perf_counter() - start) / len(films) * 1000
        return result

    prepared = timed("load and prepare", lambda: [prepare(film, dicom_source) for film in films])
    analysed = timed("model", lambda: analyse(model, prepared))
    analyses = [image_analysis(model, item) for item in analysed]
    pairs = list(zip(analyses, prepared))
    reports = timed("SR", lambda: [structured_report(a, p.kept.header) for a, p in pairs])
    captures = timed("secondary capture", lambda: [secondary_capture(a, p.kept.header, p.kept.display)
                                                   for a, p in pairs if a.prediction is not None])
    with tempfile.TemporaryDirectory() as folder:
        timed("writing both", lambda: write_datasets([*reports, *captures], Path(folder)))
    print("analysis per film: " + ", ".join(f"{stage} {ms:.0f} ms" for stage, ms in times.items())
          + f"; {sum(times.values()):.0f} ms in all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--latency-films", type=int, default=30)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--workers", type=int, help="analyse on a Dask LocalCluster of N processes")
    args = parser.parse_args()
    sources = sorted((DATA_DIR / "dicom" / "rsna").glob("*.dcm"))
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        folder = Path(folder)
        films = node_films(sources, args.images + args.latency_films, folder / "films", args.side)
        first_films = node_films(sources[:4], 4, folder / "warm-up", args.side)
        with OrthancServer(folder / "orthanc") as orthanc:
            options = ["--workers", str(args.workers)] if args.workers else []
            node = NodeProcess(folder / "store", free_port(), [f"{orthanc.aet}@{orthanc.host}:{orthanc.dicom_port}"],
                               options).start()
            try:
                push(first_films, node.port)  # the first batch, before any figure
                while finished(NodeStore(node.store)) < len(first_films):
                    node.check_running()
                    time.sleep(0.2)
                where = f"Dask, {args.workers} workers" if args.workers else "in the node process"
                print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; films {args.side}x{args.side} "
                      f"8-bit uncompressed; analysis {where}")
                throughput(node, films[:args.images])
                latency(node, films[args.images:])
            finally:
                node.stop()
        stages(node_films(sources, 16, folder / "stages", args.side))


if __name__ == "__main__":
    main()
