"""The import contracts of pyproject.toml ([tool.importlinter]) hold: imports point down the layers
(cli > ui > desktop > commands | reading > jobs > pacs | report | training | dicom_results > ai >
imaging > events), Qt only in xraydesk.ui, and no import cycle inside a package. Function-level
imports count too."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_import_contract_is_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.exists(), "import-linter is missing: pip install -e '.[test]'"
    run = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
