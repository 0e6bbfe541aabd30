"""`xraydesk predict --scheduler / --workers` on a real Dask LocalCluster (2 worker processes): the
CSV equals the single-process one in every column but the timings."""

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from xraydesk.commands import cluster
from xraydesk.commands.common import EXIT_SOME_FAILED, EXIT_UNUSABLE
from xraydesk.commands.predict import predict_main
from xraydesk.jobs.cluster import worker_model
from xraydesk.jobs.pipeline import BATCH_SIZE

pytestmark = pytest.mark.slow  # starts Dask clusters of worker processes, each loading the model

distributed = pytest.importorskip("dask.distributed", reason="the cluster extra: pip install 'xraydesk[cluster]'")

RSNA = "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"


@pytest.fixture(scope="module")
def archive(tmp_path_factory, data_root) -> Path:
    """33 different chest films, a DICOM and an unreadable file: 35 inputs, three chunks of 16."""
    folder = tmp_path_factory.mktemp("archive")
    for index, source in enumerate(sorted((data_root / "cxr" / "images" / "covid").glob("cohen__*.png"))[:33]):
        (folder / f"{index:02d}.png").symlink_to(source)
    (folder / "rsna.dcm").symlink_to(data_root / "dicom" / "rsna" / RSNA)
    (folder / "noise.png").write_bytes(np.random.default_rng(0).bytes(2048))
    return folder


def rows_without_timing(out: Path) -> list[dict]:
    with open(out, newline="") as handle:
        return [{column: value for column, value in row.items() if column != "seconds"}
                for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def single_process(archive, tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("single") / "out.csv"
    assert predict_main([str(archive), "--csv", str(out)]) == EXIT_SOME_FAILED
    return rows_without_timing(out)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(cluster, "CHUNK", BATCH_SIZE)  # several chunks, so both workers get some


def test_an_existing_cluster_gives_the_single_process_csv(archive, single_process, small_chunks, tmp_path):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as local, \
            distributed.Client(local) as client:
        out = tmp_path / "out.csv"
        code = predict_main([str(archive), "--csv", str(out), "--scheduler", local.scheduler_address])
        worker_processes = {pid for pid in client.run(os.getpid).values()}
        models_loaded = client.run(lambda: worker_model.cache_info().currsize)
    assert code == EXIT_SOME_FAILED
    assert rows_without_timing(out) == single_process
    assert len(worker_processes) == 2 and os.getpid() not in worker_processes
    assert sorted(models_loaded.values()) == [1, 1]  # each worker loaded the model, once


def test_workers_option_starts_a_local_cluster_with_the_same_csv_and_heatmaps(archive, small_chunks, tmp_path,
                                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative --heatmaps folders, as a user types them
    assert predict_main([str(archive), "--csv", "single.csv", "--heatmaps", "maps"]) == EXIT_SOME_FAILED
    assert predict_main([str(archive), "--csv", "cluster.csv", "--heatmaps", "maps",
                         "--workers", "2"]) == EXIT_SOME_FAILED
    rows = rows_without_timing(tmp_path / "cluster.csv")
    assert rows == rows_without_timing(tmp_path / "single.csv")
    assert all(row["heatmap"].startswith("maps/") == (row["status"] == "ok") for row in rows)
    assert sum(row["status"] == "ok" for row in rows) > 16


def test_an_unreachable_scheduler_is_exit_2_and_leaves_nothing(archive, tmp_path, capsys):
    out = tmp_path / "out.csv"
    assert predict_main([str(archive), "--csv", str(out), "--scheduler", "tcp://127.0.0.1:9"]) == EXIT_UNUSABLE
    assert "no Dask scheduler answers at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
