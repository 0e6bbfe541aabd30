"""The tools some tests need beside Python (Orthanc, dcmtk's dsrdump, dicom3tools' dciodvfy): where one is
missing, the test fails saying what to install, so that CI can never pass by skipping them. A developer
without them sets XRAYDESK_ALLOW_SKIP=1 to skip those tests instead; scripts/test.sh never sets it."""

import os
import shutil

import pytest

ALLOW_SKIP = "XRAYDESK_ALLOW_SKIP"


def tool_missing(reason: str) -> None:
    """Fails the test with `reason`, or skips it where XRAYDESK_ALLOW_SKIP is set."""
    if os.environ.get(ALLOW_SKIP):
        pytest.skip(reason)
    pytest.fail(f"{reason} (set {ALLOW_SKIP}=1 to skip the tests that need it)", pytrace=False)


def require_tool(command: str, package: str) -> None:
    if not shutil.which(command):
        tool_missing(f"{command} ({package}) is not installed")
