#!/usr/bin/env bash
# Sets up XRayDesk on a fresh Debian/Ubuntu machine: Qt's system libraries, then a virtual
# environment in .venv with the package installed (editable, so models/ is found beside it).
# Usage: bash scripts/setup.sh [--test]   (--test adds Xvfb, PDF tools, Orthanc and DICOM validators,
# the test extras and the Dask cluster extra the batch tests use)
set -euo pipefail
cd "$(dirname "$0")/.."
# fonts-wqy-microhei (5 MB): Chinese, Japanese and Korean names in the window and in the PDF (DejaVu has no CJK)
QT_LIBS="libgl1 libglib2.0-0 libfontconfig1 libfreetype6 fonts-dejavu-core fonts-wqy-microhei libegl1 libdbus-1-3
 libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb1 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1
 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libxcb-glx0 libxcb-util1 desktop-file-utils"
# The PACS tests run against a real Orthanc (with its DICOMweb plugin) and check the DICOM written
# with dicom3tools' dciodvfy and dcmtk's dsrdump.
TEST_TOOLS="xvfb xauth x11-utils poppler-utils shared-mime-info libglib2.0-bin orthanc orthanc-dicomweb dicom3tools dcmtk"
packages="$QT_LIBS"
extras=""
if [ "${1:-}" = "--test" ]; then
  packages="$packages $TEST_TOOLS"
  extras="[test,cluster]"
fi
if command -v apt-get >/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # shellcheck disable=SC2086
  if ! dpkg -s $packages >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $packages
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
echo "XRayDesk is set up: launch it with .venv/bin/xraydesk (or .venv/bin/python main.py)"
