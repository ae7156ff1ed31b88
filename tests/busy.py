"""How much of this machine other programs take while a test runs (Linux /proc): a test's timing checks hold
on a machine with its cores free, and are skipped, with the reason, where other programs take them."""

import os
import time
from pathlib import Path

import pytest

BUSY_CORES = 0.5  # other programs using more than half a core: the timing checks would measure them
_HZ = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # the fields after the command's name (which may hold spaces)


def _our_ticks(root: int) -> int:
    """CPU ticks of this process and every process below it (JACK, the engines the tests start)."""
    parents, ticks = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (f := _stat(entry.name)) is not None:
            parents[int(entry.name)] = int(f[1])
            ticks[int(entry.name)] = int(f[11]) + int(f[12])  # utime + stime
    ours, grew = {root}, True
    while grew:
        below = {pid for pid, ppid in parents.items() if ppid in ours} - ours
        grew = bool(below)
        ours |= below
    return sum(ticks.get(pid, 0) for pid in ours)


def _busy_ticks() -> int:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return user + nice + system + irq + softirq + steal


def others_cores(seconds: float = 0.5) -> float:
    """Cores' worth of CPU that programs outside this test run used over ``seconds``."""
    me = os.getpid()
    busy0, ours0 = _busy_ticks(), _our_ticks(me)
    time.sleep(seconds)
    busy1, ours1 = _busy_ticks(), _our_ticks(me)
    return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / (_HZ * seconds)


class Watch:
    """What other programs (and the hypervisor, as steal) take of the machine from now on."""

    def __init__(self):
        self.t0, self.busy0, self.ours0 = time.monotonic(), _busy_ticks(), _our_ticks(os.getpid())

    def others_cores(self) -> float:
        seconds = max(time.monotonic() - self.t0, 1e-3)
        busy = _busy_ticks() - self.busy0
        ours = _our_ticks(os.getpid()) - self.ours0
        return max(0.0, busy - ours) / (_HZ * seconds)


def skip_where_busy() -> "Watch | None":
    """Skip the calling test where other programs take more than BUSY_CORES of the machine, saying so; else a
    Watch of the machine from here on (None without /proc)."""
    if not Path("/proc/stat").exists():
        return None
    used = others_cores()
    if used > BUSY_CORES:
        pytest.skip(f"other programs use {used:.1f} cores of this machine; this test's timing checks need them "
                    "free (bench/bench_timing.py measures timing on a loaded machine)")
    return Watch()


def timing_holds(watch: "Watch | None", check, jack=None) -> None:
    """Run the timing assertions ``check()``; where they fail while other programs took more than BUSY_CORES
    of the machine during the test, or while the JACK server ``jack`` (a tests.jack_server.JackServer, marked
    when the test began) ran cycles late, skip instead, saying so (a timing figure of a busy machine, or of
    a graph that lost whole cycles of MIDI, is not the engine's)."""
    try:
        check()
    except AssertionError:
        used = watch.others_cores() if watch is not None else 0.0
        if used > BUSY_CORES:
            pytest.skip(f"other programs took {used:.1f} cores of this machine during the test; its timing "
                        "checks need them free")
        late = jack.xruns() if jack is not None else {}
        if any(late.values()):
            pytest.skip(f"the JACK server ran late during the test ({late['late_cycles']} late cycles, "
                        f"{late['clients_not_finished']} cycles a client had not finished): whole cycles of MIDI "
                        "were lost, so its grid cannot be judged")
        raise
