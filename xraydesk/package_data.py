"""Where XRayDesk's files are: the data folders `models/` and `resources/` it ships, and the user's
data folder it writes to. In a checkout (and an editable install) the data folders are top-level
folders beside the package; a wheel carries them inside it, as xraydesk/models and xraydesk/resources
(pyproject.toml maps them in when the wheel is built). A leaf: the app and the PACS store both use it."""

import os
from importlib.resources import files
from pathlib import Path


def data_folder(name: str) -> Path:
    installed = files("xraydesk") / name
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parents[1] / name


def user_data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
