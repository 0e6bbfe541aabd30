"""Desktop integration without Qt: where the resources live, and `xraydesk --install-desktop`,
which registers the app in the user's applications menu for DICOM, PNG and JPEG files."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from xraydesk.package_data import data_folder, user_data_home

RESOURCES_DIR = data_folder("resources")
DESKTOP_FILE = RESOURCES_DIR / "xraydesk.desktop"
ICON_FILE = RESOURCES_DIR / "xraydesk.svg"
STYLE_SHEET = RESOURCES_DIR / "style.qss"
MIME_PACKAGE = RESOURCES_DIR / "xraydesk-dicom.xml"


def launcher_command() -> str:
    """The installed `xraydesk` script if on PATH, else this interpreter running the package."""
    script = shutil.which("xraydesk")
    return shlex.quote(script) if script else f"{shlex.quote(sys.executable)} -m xraydesk"


def install_desktop_entry(data_home: Path | None = None) -> Path:
    """Copies the desktop entry (with an Exec line for this installation) and the icon into the
    user's XDG data folders; returns the installed entry."""
    data_home = data_home or user_data_home()
    applications = data_home / "applications"
    icons = data_home / "icons" / "hicolor" / "scalable" / "apps"
    applications.mkdir(parents=True, exist_ok=True)
    icons.mkdir(parents=True, exist_ok=True)
    entry = applications / DESKTOP_FILE.name
    lines = [
        f"Exec={launcher_command()} %F" if line.startswith("Exec=") else line
        for line in DESKTOP_FILE.read_text(encoding="utf-8").splitlines()
    ]
    entry.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copyfile(ICON_FILE, icons / ICON_FILE.name)
    _install_mime_package(data_home / "mime")
    if shutil.which("update-desktop-database"):  # refreshes the MIME type → application cache
        subprocess.run(["update-desktop-database", str(applications)], check=False, capture_output=True)
    return entry


def _install_mime_package(mime_home: Path) -> None:
    """Teaches the user's MIME database DICOM files that have neither preamble nor extension."""
    packages = mime_home / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MIME_PACKAGE, packages / MIME_PACKAGE.name)
    if shutil.which("update-mime-database"):
        subprocess.run(["update-mime-database", str(mime_home)], check=False, capture_output=True)
