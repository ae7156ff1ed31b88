import functools
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
    import tempfile

    # the CC map and any other config a test's play writes: never the user's own folder
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="live-biaxial-config-")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A small random model, checkpointed and exported through the real CLI (which verifies it).

    Returns (torch model, path of the .onnx file)."""
    import torch

    from live_biaxial_training import checkpoint
    from live_biaxial_training.config import ModelConfig, TrainConfig
    from live_biaxial_training.model import BiaxialLSTM

    d = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(3)
    model = BiaxialLSTM(ModelConfig(time_sizes=(24, 16), pitch_sizes=(12, 8), dropout=0.0))
    with torch.no_grad():  # livelier than the init's 5% rate, so the controls have notes to act on
        model.out.bias.copy_(torch.tensor([-1.5, 0.0]))
    checkpoint.save(d / "last.pt", model, None, 0, TrainConfig(), {"data_summary": {"train": {"pieces": 0}}})
    r = run_cli("export-onnx", d / "last.pt", "--out", d / "tiny.onnx")
    assert r.returncode == 0, r.stderr
    assert "notes identical" in r.stdout
    return model, d / "tiny.onnx"


@pytest.fixture
def quiet_machine():
    """For tests that check timing: skipped, with the reason, where other programs take the machine's cores;
    gives a busy.Watch of the machine for busy.timing_holds."""
    from tests.busy import skip_where_busy

    return skip_where_busy()


@functools.cache  # (asked by the report header and the fixture: one probe process)
def jack_realtime() -> tuple[bool, str]:
    """Whether the tests' JACK server runs realtime (as musicians run it; LIVE_BIAXIAL_JACK_REALTIME=0 turns it
    off), and if not, why."""
    from tests.jack_server import why_not_realtime

    if os.environ.get("LIVE_BIAXIAL_JACK_REALTIME", "1") == "0":
        return False, "LIVE_BIAXIAL_JACK_REALTIME=0"
    reason = why_not_realtime()
    return not reason, reason


def pytest_report_header(config):
    realtime, reason = jack_realtime()
    return "JACK for the tests: " + ("realtime" if realtime else f"not realtime: {reason}")


@pytest.fixture(scope="session")
def jack(tmp_path_factory):
    """A JACK server with the dummy driver, private to this test run, realtime where the machine allows it;
    yields the mido backend."""
    import shutil

    import mido

    from tests.jack_server import JackServer

    if shutil.which("jackd") is None:
        if os.environ.get("CI"):
            pytest.fail("jackd is not installed (apt-get install jackd2)")
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    name = f"lbtest{os.getpid()}"
    before = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION")}
    os.environ["JACK_DEFAULT_SERVER"] = name  # this run's clients (and the engines it starts) find its own server
    os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"
    # --sync (JackServer's default): the server waits for late clients instead of dropping the MIDI of that
    # cycle (without it, a client of this process woken late on a busy machine made JACK lose notes: a flaky
    # test). 128-frame periods (2.7 ms): a JACK MIDI port carries about 8 events per 32-frame period and drops
    # the rest, and the dummy driver often wakes late and folds several periods into one; bench/bench_timing.py
    # measures timing at 32 frames.
    period = int(os.environ.get("LIVE_BIAXIAL_JACK_PERIOD", "128"))  # e.g. 32 to run the JACK tests at 32 frames
    server = JackServer(name, tmp_path_factory.getbasetemp() / "jackd.log", period=period,
                        realtime=jack_realtime()[0])
    try:
        server.start()
    except RuntimeError as err:
        pytest.fail(str(err))
    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
    backend.server = server  # for the tests that count its xruns
    yield backend
    server.close()
    for k, v in before.items():  # as it was: a musician's own server is the default again
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
