"""A non-editable install works: the wheel carries models/ and resources/ inside the package and
`xraydesk predict` run from a fresh virtual environment finds them (issue 10)."""

import csv
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RSNA = "0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"

pytestmark = pytest.mark.slow  # builds a wheel and installs it in a fresh virtual environment


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the checkout's sources, so the build leaves nothing in the checkout."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    for folder in ("xraydesk", "models", "resources"):
        shutil.copytree(REPO_ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                    "--no-index", "--quiet", "-w", str(dist)], check=True)
    (built,) = dist.glob("xraydesk-*.whl")
    return built


def test_the_wheel_carries_every_module_model_and_resource(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    modules = {path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / "xraydesk").rglob("*.py")}
    data = {f"xraydesk/{path.relative_to(REPO_ROOT).as_posix()}"
            for folder in ("models", "resources") for path in (REPO_ROOT / folder).iterdir() if path.is_file()}
    assert modules - names == set()
    assert data - names == set()


def test_predict_runs_from_a_fresh_environment_with_the_wheel(wheel, tmp_path, data_root):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        check=True, capture_output=True, text=True).stdout.strip())
    # The dependencies (TensorFlow...) come from this environment's packages instead of a new download;
    # a plain path line does not run that environment's .pth files, so its editable xraydesk stays out.
    (site_packages / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--quiet", str(wheel)], check=True)
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("XRAYDESK_MODELS", "PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run([python, "-c", "import xraydesk.package_data as p; print(p.data_folder('models'))"],
                           cwd=tmp_path, env=environment, check=True, capture_output=True, text=True).stdout.strip()
    assert Path(where) == site_packages / "xraydesk" / "models"
    out = tmp_path / "out.csv"
    run = subprocess.run([venv / "bin" / "xraydesk", "predict", str(data_root / "dicom" / "rsna" / RSNA),
                          "--csv", str(out)], cwd=tmp_path, env=environment, capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    with open(out, newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["status"] == "ok" and row["p_normal"]
