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
    for command in ("predict", "report", "pacs", "serve", "evaluate", "train"):
        assert f"\n  {command} " in usage
    assert "Research use only" in usage
    assert "--install-desktop" in run_python("main.py", "--help-viewer").stdout

def test_command_line_version():
    assert run_python("main.py", "--version").stdout.strip() == "XRayDesk 0.1.0"
