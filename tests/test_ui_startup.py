"""Start-up stays light: the viewer's modules do not import the heavy libraries; the command line works."""

import subprocess
import sys

from dicom_files import REPO_ROOT


def run_python(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


def test_viewer_start_up_does_not_import_the_heavy_libraries():
    """TensorFlow (seconds), SciPy, matplotlib, pydicom and the PACS libraries load when first used, not at start-up."""
    heavy = ["tensorflow", "scipy", "matplotlib", "pydicom", "pynetdicom", "highdicom", "dicomweb_client"]
    result = run_python("-c", f"import sys, xraydesk.ui.app, xraydesk.cli; print([m for m in {heavy} if m in sys.modules])")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_command_line_help_lists_every_command_and_the_viewer_options():
    usage = run_python("main.py", "--help").stdout
    for command in ("predict", "report", "pacs", "evaluate", "train"):
        assert f"\n  {command} " in usage
    assert "Research use only" in usage
    assert "--install-desktop" in run_python("main.py", "--help-viewer").stdout

def test_one_version_for_the_command_line_the_package_and_the_changelog():
    import tomllib

    from xraydesk import __version__

    for command in (["main.py"], ["-m", "xraydesk.cli"]):  # the checkout's launcher and the `xraydesk` entry point
        assert run_python(*command, "--version").stdout.strip() == f"XRayDesk {__version__}"
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "xraydesk.__version__"}
    headings = [line for line in (REPO_ROOT / "CHANGELOG.md").read_text().splitlines() if line.startswith("## ")]
    assert headings[0].startswith(f"## {__version__} ")


def test_about_names_the_application_and_the_model_each_with_its_own_version(qtbot):
    import json

    from ui_helpers import shown_window

    from xraydesk import __version__

    metadata = json.loads((REPO_ROOT / "models" / "xraydesk-cxr.json").read_text())
    window = shown_window(qtbot)  # the shipped model, not loaded: its version from its metadata file
    model = f"{metadata['name']} {metadata['version']}"
    assert window.about_text().startswith(f"XRayDesk {__version__}\nAI model: {model} ")
    assert "Research use only" in window.about_text()
    window.close()
