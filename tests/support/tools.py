"""The system tools some tests run: Debian's chromium and promtool (package prometheus).

``make test`` installs them first (``tools/system-deps.sh``); a run without one fails with the command that
installs it, so no test is skipped for want of a tool.
"""

from __future__ import annotations

import os
import shutil

import pytest

INSTALL = "sudo tools/system-deps.sh"


def chromium() -> str:
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(f"Chromium not found (nor CHROMIUM_PATH): run {INSTALL}", pytrace=False)
    return found


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(f"promtool not found: run {INSTALL}", pytrace=False)
    return found
