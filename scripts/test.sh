#!/usr/bin/env bash
# Runs the whole test suite headless: Qt offscreen, with an Xvfb display for the screenshot tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
unset XRAYDESK_ALLOW_SKIP  # CI fails where Orthanc, dcmtk or dicom3tools is missing (tests/required_tools.py)
exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest -q "$@"
