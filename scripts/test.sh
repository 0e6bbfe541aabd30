#!/usr/bin/env bash
# Runs the whole test suite headless: Qt offscreen, with an Xvfb display for the screenshot tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest -q "$@"
