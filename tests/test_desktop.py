"""The desktop entry and `xraydesk --install-desktop`."""

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dicom_files import REPO_ROOT

from xraydesk.desktop import DESKTOP_FILE, ICON_FILE

needs_validator = pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils missing")


def desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def validate(path: Path) -> str:
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@needs_validator
def test_resource_desktop_entry_is_valid_and_declares_the_mime_types():
    assert validate(DESKTOP_FILE) == ""  # not even hints
    entry = desktop_entry(DESKTOP_FILE)
    assert entry["MimeType"].rstrip(";").split(";") == ["application/dicom", "image/png", "image/jpeg"]
    assert entry["Exec"].endswith("%F") and entry["Icon"] == "xraydesk"
    assert ICON_FILE.read_text().startswith("<svg")


@needs_validator
def test_install_desktop_puts_a_valid_entry_and_icon_in_the_user_folders(tmp_path):
    environment = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, str(REPO_ROOT / "main.py"), "--install-desktop"], env=environment,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "applications" / "xraydesk.desktop"
    assert f"Installed {installed}" in result.stdout
    validate(installed)
    command = desktop_entry(installed)["Exec"]
    assert command.endswith(" %F") and ("xraydesk" in command)
    executable = command.split()[0].strip("'")
    assert Path(executable).is_file()
    assert (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "xraydesk.svg").read_bytes() == ICON_FILE.read_bytes()


@pytest.mark.skipif(not (shutil.which("update-mime-database") and shutil.which("gio")),
                    reason="shared-mime-info or gio (libglib2.0-bin) missing")
def test_installed_mime_rule_recognises_dicom_without_preamble_or_extension(tmp_path, dicom_dir):
    from xraydesk.desktop import install_desktop_entry

    install_desktop_entry(tmp_path / "data")
    headerless = tmp_path / "fuji-chest"
    shutil.copyfile(dicom_dir / "barre" / "CR-MONO1-10-chest", headerless)  # a copy: the source is never touched
    text = tmp_path / "notes"
    text.write_text("not an image")
    environment = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}

    def content_type(path: Path) -> str:
        result = subprocess.run(["gio", "info", "-a", "standard::content-type", str(path)], env=environment,
                                capture_output=True, text=True, timeout=30)
        return result.stdout.split("standard::content-type:")[-1].strip()

    assert content_type(headerless) == "application/dicom"
    assert content_type(text) == "text/plain"
