"""`xraydesk predict` against crafted hostile inputs and outputs (issue 10): every input file gets a
row or a stated reason, output failures end in one line and a distinct exit code with nothing left
behind, Ctrl+C keeps the rows done and `--resume` finishes them."""

import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import BasicTextSRStorage, DeflatedExplicitVRLittleEndian

from xraydesk.commands import predict_csv
from xraydesk.commands.common import EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT_FAILED, EXIT_SOME_FAILED
from xraydesk.commands.predict import predict_main
from xraydesk.commands.predict_csv import COLUMNS
from xraydesk.imaging import loading

REPO_ROOT = Path(__file__).resolve().parents[2]
RSNA = "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"


@pytest.fixture(scope="module")
def chest_png(data_root) -> Path:
    return next((data_root / "cxr" / "images" / "covid").glob("cohen__*.png"))


@pytest.fixture(scope="module")
def chest_dicom(data_root) -> Path:
    return data_root / "dicom" / "rsna" / RSNA


def read_rows(out: Path) -> list[dict]:
    with open(out, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def rows_by_name(out: Path) -> dict[str, dict]:
    return {Path(row["path"]).name: row for row in read_rows(out)}


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".part"))


def deflate_bomb(make_dicom) -> Path:
    path = make_dicom("bomb.dcm", np.zeros((2048, 2048), dtype=np.uint16))  # 8 MiB inflated, ~10 kB deflated
    dataset = pydicom.dcmread(path)
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    dataset.save_as(path)
    return path


def test_every_hostile_input_gets_a_row_with_its_reason(tmp_path, chest_png, chest_dicom, make_dicom,
                                                        make_pixelless_dicom, monkeypatch, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(chest_png, folder / "chest.png")
    shutil.copy(chest_dicom, folder / "chest.dcm")
    (folder / "self.dcm").symlink_to(folder / "self.dcm")
    os.mkfifo(folder / "fifo.dcm")
    (folder / "zero.dcm").symlink_to("/dev/zero")
    for crafted in (make_dicom("nan.dcm", RescaleSlope="NaN", RescaleIntercept="0"), deflate_bomb(make_dicom),
                    make_pixelless_dicom("report.dcm", BasicTextSRStorage)):
        os.replace(crafted, folder / crafted.name)
    (folder / "noise.png").write_bytes(np.random.default_rng(0).bytes(4096))
    (folder / "noise.jpg").write_bytes(np.random.default_rng(1).bytes(4096))
    (folder / "notes.txt").write_text("a note")
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(chest_png, tmp_path / "elsewhere" / "linked.png")
    (folder / "linked folder").symlink_to(tmp_path / "elsewhere")
    monkeypatch.setattr(loading, "MAX_INFLATED_BYTES", 2**20)

    code = predict_main([str(folder), "--csv", str(tmp_path / "out.csv")])

    assert code == EXIT_SOME_FAILED
    rows = rows_by_name(tmp_path / "out.csv")
    expected = {"chest.png": "ok", "chest.dcm": "ok", "linked.png": "ok", "self.dcm": "error", "fifo.dcm": "error",
                "zero.dcm": "error", "nan.dcm": "error", "bomb.dcm": "error", "noise.png": "error",
                "noise.jpg": "error", "notes.txt": "error"}  # no row for the DICOM report: skipped, said so
    assert {name: row["status"] for name, row in rows.items()} == expected
    assert rows["self.dcm"]["reason"] == "symbolic link loop"
    assert rows["fifo.dcm"]["reason"].startswith("not a regular file (a named pipe")
    assert rows["zero.dcm"]["reason"].startswith("not a regular file (a character device")
    assert rows["nan.dcm"]["reason"].startswith("invalid rescale values")
    assert rows["bomb.dcm"]["reason"].startswith("deflated data set inflates beyond 1 MiB")
    assert rows["noise.png"]["reason"] == rows["notes.txt"]["reason"] == "not a DICOM, PNG or JPEG file"
    assert "skipped 1 non-image DICOM objects" in capsys.readouterr().err


def test_join_keys_come_from_the_dicom_header_and_are_empty_for_png(tmp_path, chest_png, chest_dicom):
    assert predict_main([str(chest_png), str(chest_dicom), "--csv", str(tmp_path / "out.csv")]) == EXIT_OK
    rows = rows_by_name(tmp_path / "out.csv")
    header = pydicom.dcmread(chest_dicom, stop_before_pixels=True)
    assert {column: rows[RSNA][column] for column in predict_csv.JOIN_KEYS} == {
        "sop_instance_uid": header.SOPInstanceUID, "study_instance_uid": header.StudyInstanceUID,
        "series_instance_uid": header.SeriesInstanceUID, "patient_id": header.PatientID,
        "study_date": header.get("StudyDate", ""), "view_position": header.ViewPosition}
    assert rows[RSNA]["view_position"] in ("PA", "AP")
    assert all(rows[chest_png.name][column] == "" for column in predict_csv.JOIN_KEYS)
    assert rows[RSNA]["file_bytes"] == str(chest_dicom.stat().st_size)
    assert rows[RSNA]["file_mtime_ns"] == str(chest_dicom.stat().st_mtime_ns)


def test_a_name_that_is_not_utf8_gets_its_row_and_round_trips(tmp_path, chest_png):
    folder = tmp_path / "in"
    folder.mkdir()
    odd = folder / os.fsdecode(b"bad\xff.png")
    shutil.copy(chest_png, odd)
    assert predict_main([str(folder), "--csv", str(tmp_path / "out.csv")]) == EXIT_OK
    (row,) = read_rows(tmp_path / "out.csv")
    assert os.fsencode(row["path"]) == os.fsencode(odd) and row["status"] == "ok"
    assert leftovers(tmp_path) == []


def test_the_same_pixels_in_8_and_16_bit_png_get_the_same_answer(tmp_path, chest_png):
    with Image.open(chest_png) as image:
        pixels = np.asarray(image.convert("L"))
    Image.fromarray(pixels).save(tmp_path / "eight.png")
    Image.fromarray(pixels.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    out = tmp_path / "out" / "out.csv"
    out.parent.mkdir()
    assert predict_main([str(tmp_path / "eight.png"), str(tmp_path / "sixteen.png"), "--csv", str(out)]) == EXIT_OK
    rows = rows_by_name(out)
    skip = {"path", "seconds", "heatmap", "file_bytes", "file_mtime_ns"}
    assert {k: v for k, v in rows["eight.png"].items() if k not in skip} == \
        {k: v for k, v in rows["sixteen.png"].items() if k not in skip}


def test_an_output_over_an_input_or_inside_a_scanned_folder_is_refused(tmp_path, chest_png, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    target = shutil.copy(chest_png, folder / "x.png")
    before = Path(target).read_bytes()
    assert predict_main([str(folder), "--csv", str(target)]) == EXIT_OUTPUT_FAILED
    assert predict_main([str(target), "--csv", str(target)]) == EXIT_OUTPUT_FAILED
    assert predict_main([str(folder), "--csv", str(folder / "sub" / "out.csv")]) == EXIT_OUTPUT_FAILED
    assert predict_main([str(folder), "--csv", str(tmp_path / "out.csv"), "--heatmaps", str(folder / "maps")]) \
        == EXIT_OUTPUT_FAILED
    assert Path(target).read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["x.png"]
    assert "is one of the inputs" in capsys.readouterr().err
    # a dot-folder is not scanned: writing there is fine
    assert predict_main([str(folder), "--csv", str(folder / ".results" / "out.csv")]) == EXIT_OUTPUT_FAILED
    (folder / ".results").mkdir()
    assert predict_main([str(folder), "--csv", str(folder / ".results" / "out.csv")]) == EXIT_OK


def read_only_folder(tmp_path: Path) -> Path:
    """A folder the kernel refuses writes to: chmod for a normal user, a read-only tmpfs for root
    (root writes through chmod)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return folder
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], check=False).returncode:
        pytest.skip("running as root where a read-only tmpfs cannot be mounted")
    return folder


@pytest.fixture
def locked(tmp_path):
    folder = read_only_folder(tmp_path)
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o755)


@pytest.mark.parametrize("where", ["read-only folder", "missing folder", "a folder", "sidecar does not fit"])
def test_output_failures_end_in_one_line_and_exit_3_leaving_nothing(where, tmp_path, chest_png, capsys, request,
                                                                     monkeypatch):
    out = {"read-only folder": lambda: request.getfixturevalue("locked") / "out.csv",
           "missing folder": lambda: tmp_path / "missing" / "out.csv",
           "a folder": lambda: tmp_path,
           "sidecar does not fit": lambda: tmp_path / "out.csv"}[where]()
    if where == "sidecar does not fit":
        out.write_text("an earlier CSV\n")
        real_commit = predict_csv.OutputFiles.commit

        def disk_full_at_the_sidecar(self, provenance):
            self.sidecar.write = lambda text: (_ for _ in ()).throw(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
            real_commit(self, provenance)

        monkeypatch.setattr(predict_csv.OutputFiles, "commit", disk_full_at_the_sidecar)
    code = predict_main([str(chest_png), "--csv", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_OUTPUT_FAILED
    message = [line for line in err.splitlines() if line.startswith("xraydesk predict:")]
    assert len(message) == 1 and "Traceback" not in err
    assert leftovers(out.parent if out.parent.exists() else tmp_path) == []
    if where == "sidecar does not fit":
        assert "No space left on device" in message[0]
        assert out.read_text() == "an earlier CSV\n" and not predict_csv.sidecar_path(out).exists()


# `xraydesk predict`, with Ctrl+C raising KeyboardInterrupt as in a terminal (a process started in
# the background may inherit SIGINT ignored).
PREDICT = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
           "from xraydesk.cli import main; sys.exit(main())")


def predict_process(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PREDICT, "predict", *arguments], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def copies(source: Path, folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    paths = [folder / f"{index:04d}.png" for index in range(count)]
    for path in paths:
        os.link(source, path)
    return paths


def test_two_runs_writing_one_csv_never_mix(tmp_path, chest_png):
    first, second = copies(chest_png, tmp_path / "a", 12), copies(chest_png, tmp_path / "b", 7)
    out = tmp_path / "out" / "out.csv"
    out.parent.mkdir()
    runs = [predict_process(str(folder), "--csv", str(out)) for folder in (tmp_path / "a", tmp_path / "b")]
    assert [run.wait(600) for run in runs] == [EXIT_OK, EXIT_OK]
    assert b"\0" not in out.read_bytes()
    paths = [Path(row["path"]) for row in read_rows(out)]
    assert paths in (first, second)
    inputs = json.loads(predict_csv.sidecar_path(out).read_text())["inputs"]
    assert inputs in ([str(tmp_path / "a")], [str(tmp_path / "b")])
    assert leftovers(out.parent) == []


def test_ctrl_c_keeps_the_rows_done_and_resume_finishes_them(tmp_path, chest_png):
    images = copies(chest_png, tmp_path / "in", 300)
    out = tmp_path / "out" / "out.csv"
    out.parent.mkdir()
    run = predict_process(str(tmp_path / "in"), "--csv", str(out))
    deadline = time.monotonic() + 300
    while not any(path.stat().st_size for path in out.parent.glob(".out.csv.*.part")):  # the first rows are out
        assert run.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == EXIT_INTERRUPTED
    assert str(out) in err and "--resume" in err and "Traceback" not in err
    done = read_rows(out)
    assert 0 < len(done) < len(images) and all(row["status"] == "ok" for row in done)
    assert json.loads(predict_csv.sidecar_path(out).read_text())["interrupted"] is True
    assert leftovers(out.parent) == []

    assert predict_main([str(tmp_path / "in"), "--csv", str(out), "--resume"]) == EXIT_OK
    resumed = read_rows(out)
    assert [Path(row["path"]) for row in resumed] == images
    assert resumed[:len(done)] == done  # kept as they were, not analysed again


def test_resume_keeps_rows_of_unchanged_files_only(tmp_path, chest_png, chest_dicom):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        shutil.copy(chest_png, folder / name)
    out = tmp_path / "out.csv"
    assert predict_main([str(folder), "--csv", str(out)]) == EXIT_OK
    rows = read_rows(out)
    for row in rows:
        row["seconds"] = "99.000"  # a mark: a kept row keeps it, an analysed row does not
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(row for row in rows if not row["path"].endswith("b.png"))  # b was never done
    os.utime(folder / "c.png", ns=(time.time_ns(), time.time_ns() + 10**9))  # c changed since
    assert predict_main([str(folder), "--csv", str(out), "--resume"]) == EXIT_OK
    seconds = {Path(row["path"]).name: row["seconds"] for row in read_rows(out)}
    assert list(seconds) == ["a.png", "b.png", "c.png"]
    assert seconds["a.png"] == "99.000" and seconds["b.png"] != "99.000" and seconds["c.png"] != "99.000"


def test_resume_refuses_a_csv_of_another_model(tmp_path, chest_png):
    out = tmp_path / "out.csv"
    assert predict_main([str(chest_png), "--csv", str(out)]) == EXIT_OK
    sidecar = predict_csv.sidecar_path(out)
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "model": "XRayDesk CXR 0.0.1"}))
    before = out.read_bytes()
    assert predict_main([str(chest_png), "--csv", str(out), "--resume"]) == EXIT_OUTPUT_FAILED
    assert out.read_bytes() == before
