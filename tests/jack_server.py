"""A private JACK server (dummy driver) for the tests and benchmarks: realtime where this machine allows it, as
musicians run it, else not, saying why; it counts its own xruns from its log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def why_not_realtime() -> str:
    """'' where a process here may take realtime scheduling (SCHED_FIFO, as jackd -R does), else why not."""
    if not hasattr(os, "sched_setscheduler"):
        return "this system has no realtime scheduling"
    probe = "import os; os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    if r.returncode == 0:
        return ""
    last = (r.stderr.strip().splitlines() or ["refused"])[-1]
    return f"realtime scheduling is not allowed here ({last})"


class JackServer:
    """``with JackServer(name, log) as jack:`` a jackd of its own, named, with the dummy driver at 48 kHz.

    ``realtime``: True (the default) asks for -R and falls back to --no-realtime where the machine refuses it
    (``reason`` says why); False runs it not realtime. ``sync``: the server waits for late clients instead of
    dropping their cycle's MIDI. ``xruns()`` counts the cycles the server ran late and those whose clients had
    not finished (its log's lines), since it started or since ``mark()``."""

    def __init__(self, name: str, log: Path, period: int = 128, realtime: bool = True, sync: bool = True):
        self.name, self.log_path, self.period, self.sync = name, Path(log), period, sync
        self.reason = why_not_realtime() if realtime else "asked not to"
        self.realtime = not self.reason
        self._proc: subprocess.Popen | None = None
        self._mark = 0

    def __enter__(self) -> JackServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def mode(self) -> str:
        return "realtime" if self.realtime else "not realtime"

    def start(self, timeout_s: float = 15.0) -> None:
        """Start it and wait until it answers; RuntimeError if it does not."""
        cmd = ["jackd", "-R" if self.realtime else "--no-realtime", *(["--sync"] if self.sync else []), "-n", self.name,
               "-d", "dummy", "-r", "48000", "-p", str(self.period)]
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
        self._log = open(self.log_path, "w")
        self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout_s
        while not self.answers():
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.close()
                raise RuntimeError(f"jackd did not start ({' '.join(cmd)}); see {self.log_path}")
            time.sleep(0.2)

    def answers(self) -> bool:
        r = subprocess.run(["jack_lsp"], capture_output=True, text=True, timeout=10,
                           env=dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_START_SERVER="1"))
        return r.returncode == 0 and "system:" in r.stdout

    def _lines(self) -> list[str]:
        self._log.flush()
        return self.log_path.read_text(errors="replace").splitlines()

    def mark(self) -> None:
        """Count xruns from here on."""
        self._mark = len(self._lines())

    def xruns(self) -> dict[str, int]:
        """{"late_cycles": the server's own late cycles, "clients_not_finished": cycles a client was late for}."""
        lines = self._lines()[self._mark :]
        return {"late_cycles": sum("Process XRun" in ln for ln in lines),
                "clients_not_finished": sum("was not finished" in ln for ln in lines)}

    def close(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
            self._log.close()
