import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
JSB_DIR = SHARED / "data" / "jsb-chorales"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session gets its own piece cache, so tests never read a user's cache."""
    monkeypatch.setenv("LIVE_BIAXIAL_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def run_cli(*args, timeout=300, env=None):
    """Run `python -m live_biaxial ARGS` in a subprocess; returns CompletedProcess."""
    import subprocess

    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "live_biaxial", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=full_env)


def pytest_configure(config):
    # One torch thread: tests run beside other work on 2 cores; oversubscribed thread pools crawl.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
