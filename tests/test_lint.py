"""The code passes the linter configured in pyproject.toml (ruff: syntax errors, undefined and unused names)."""

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_ruff_finds_nothing():
    if shutil.which("ruff") is None and subprocess.run([sys.executable, "-m", "ruff", "--version"],
                                                       capture_output=True).returncode:
        pytest.skip("ruff is not installed (the dev extra has it)")
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "live_biaxial", "training", "tests", "bench"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
