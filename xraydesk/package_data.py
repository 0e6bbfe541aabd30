"""Where the data folders `models/` and `resources/` are. In a checkout (and an editable install)
they are top-level folders beside the package; a wheel carries them inside it, as xraydesk/models
and xraydesk/resources (pyproject.toml maps them in when the wheel is built)."""

from importlib.resources import files
from pathlib import Path


def data_folder(name: str) -> Path:
    installed = files("xraydesk") / name
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parents[1] / name
