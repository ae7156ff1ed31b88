"""Onset error of every note against the ideal 16th grid. Writes bench/results/timing.json.

(a) internal clock: the engine in this process, its port.send calls timestamped (measured at
    the port) against the grid the clock aims for;
(b) external clock: a fake DAW process sends MIDI clock through JACK (dummy driver, 32-frame
    periods) to `live-biaxial play --clock-in` and receives its notes; error = arrival minus the
    send time of the 16th's clock pulse (two JACK hops, as a DAW would see it).
Each at 120 and 300 BPM, idle, with a second process keeping a core busy and with two keeping both
busy; and the external clock with every pulse shaken by up to +-1 ms (error against the ideal grid).
Per cell onset p50/p99/max and, for the engine, the 16ths it counted against the DAW's (slipped). Also
the engine's CPU use at 120 BPM (internal clock). Run on a quiet machine:
    python -m bench.bench_timing [--model exported/default.onnx] [--bars 8]
Beside the engine (which sends each 16th at the tick its clock follower predicts) the same run
measures the engine with --on-tick (sends when the pulse arrives) and bench/jack_echo.py, a
trivial client answering each 16th's pulse: the floor of two JACK hops.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from live_biaxial.clock import InternalClock, SinkTap
from live_biaxial.engine import Engine
from live_biaxial.model_file import Cell

ROOT = Path(__file__).resolve().parents[1]


class StampingPort:
    name = "stamp"

    def __init__(self):
        self.times = []

    def send(self, msg):
        if msg.type == "note_on":
            self.times.append(time.perf_counter())

    def close(self):
        pass


class GridSink(SinkTap):
    """Passes pulses on and remembers the ideal time of each 16th."""

    def __init__(self, engine):
        super().__init__(engine)
        self.grid, self.n = [], 0

    def pulse(self, t, nt):
        if self.n % 6 == 0:
            self.grid.append(t)
        self.n += 1
        super().pulse(t, nt)


def errors_ms(arrivals, grid):
    grid = np.asarray(grid)
    out = []
    for t in arrivals:
        before = grid[grid <= t + 0.002]
        if len(before):
            out.append((t - before[-1]) * 1e3)
    return np.asarray(out)


def summary(err):
    return {"n": int(len(err)), "p50_ms": float(np.percentile(err, 50)), "p99_ms": float(np.percentile(err, 99)),
            "max_ms": float(err.max())} if len(err) else {"n": 0}


def internal(model, bpm, bars):
    port = StampingPort()
    engine = Engine(Cell(model), port).open()
    sink = GridSink(engine)
    clock = InternalClock(sink, bpm)
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    clock.run(bars * 16)
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    engine.close()
    cpu = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) / (t1 - t0)
    return summary(errors_ms(port.times, sink.grid)), cpu


def start_echo(daw):
    proc = subprocess.Popen([sys.executable, "-m", "bench.jack_echo", daw.clock_name, daw.in_name],
                            stdout=subprocess.PIPE, text=True)
    assert "playing" in proc.stdout.readline()
    time.sleep(0.3)
    return proc


_runs: list[str] = []

# external() modes and their names in the results
EXTERNAL_KINDS = {"engine": "external_jack", "on_tick": "external_jack_on_tick", "echo": "echo_jack"}


def external(model, bpm, bars, backend, mode="engine", jitter_s=0.0):
    """mode: "engine" (predicted ticks), "on_tick" (the engine with --on-tick) or "echo" (the floor).
    jitter_s: the DAW's pulses each up to that much early or late; the error is then against the ideal grid."""
    from tests.daw import FakeDaw, start_engine

    echo = mode == "echo"
    _runs.append(mode)  # a fresh port name per run: the fake DAWs' inputs stay open (tests/daw.py)
    daw = FakeDaw(backend, f"bench{len(_runs)}{mode}")
    if echo:
        eng = start_echo(daw)
    else:
        extra = ["--on-tick"] if mode == "on_tick" else []
        eng = start_engine(["--port", daw.in_name, "--clock-in", daw.clock_name, *extra], model)
    try:
        daw.start()
        t0 = daw.t
        daw.clock(bars * 16, bpm=bpm, jitter_s=jitter_s)
        daw.send("stop")
        time.sleep(0.3)
        grid = daw.pulses[::6] if not jitter_s else list(t0 + 60.0 / (bpm * 4) * np.arange(bars * 16))
        result = summary(errors_ms([t for t, _ in daw.note_ons()], grid))
    finally:
        eng.terminate()
        out, err = eng.communicate(timeout=10)
        daw.close()
    if not echo and " notes, " not in out:  # recorded, not hidden: the run goes on with the next cell
        result["engine_ended_without_summary"] = {"returncode": eng.returncode, "stderr": err[-300:]}
        return result
    if echo:
        result["sent"] = bars * 16
    else:  # "live-biaxial: N 16ths, M notes, ..."
        line = [ln for ln in out.splitlines() if " notes, " in ln][-1]
        result["sent"] = int(line.split(" notes, ")[0].rsplit(" ", 1)[1])
        result["slipped_16ths"] = int(line.split(" 16ths")[0].rsplit(" ", 1)[1]) - bars * 16  # against the DAW's
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "exported" / "default.onnx"))
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "timing.json"))
    ap.add_argument("--sync", action="store_true", help="run jackd in synchronous mode (waits for late clients)")
    ap.add_argument("--period", type=int, default=32, help="JACK period in frames")
    args = ap.parse_args()
    import mido

    name = f"benchjack{os.getpid()}"
    os.environ["JACK_DEFAULT_SERVER"] = name
    jack = subprocess.Popen(["jackd", "--no-realtime", *(["--sync"] if args.sync else []), "-n", name,
                             "-d", "dummy", "-r", "48000", "-p", str(args.period)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)
    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
    result = {"model": args.model, "bars": args.bars, "jack_period_frames": args.period, "jack_sync": args.sync,
              "runs": {}}
    try:
        for load in ("idle", "busy_core", "both_cores_busy"):
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range({"idle": 0, "busy_core": 1, "both_cores_busy": 2}[load])]
            try:
                for bpm in (120, 300):
                    err, cpu = internal(args.model, bpm, args.bars)
                    result["runs"][f"internal_{bpm}bpm_{load}"] = {**err, "engine_cpu_share": cpu}
                    for mode, kind in EXTERNAL_KINDS.items():
                        result["runs"][f"{kind}_{bpm}bpm_{load}"] = external(args.model, bpm, args.bars, backend, mode)
                    for kind in ("internal", *EXTERNAL_KINDS.values()):
                        r = result["runs"][f"{kind}_{bpm}bpm_{load}"]
                        if "engine_ended_without_summary" in r:
                            print(f"{kind:22s} {bpm:3d} BPM {load:9s} the engine ended without its summary: "
                                  f"{r['engine_ended_without_summary']}", flush=True)
                            continue
                        got = f"{r['n']:4d}/{r['sent']:<4d}" if "sent" in r else f"{r['n']:4d}     "
                        if not r["n"]:
                            print(f"{kind:22s} {bpm:3d} BPM {load:9s} notes {got} (none arrived)", flush=True)
                            continue
                        print(f"{kind:22s} {bpm:3d} BPM {load:9s} notes {got} p50 {r['p50_ms']:6.3f} ms  "
                              f"p99 {r['p99_ms']:6.3f} ms  max {r['max_ms']:6.3f} ms", flush=True)
            finally:
                for hog in hogs:
                    hog.kill()
        for bpm in (120, 300):  # the DAW's clock shaken by +-1 ms, on an idle machine
            r = result["runs"][f"external_jack_{bpm}bpm_jitter1ms"] = external(args.model, bpm, args.bars, backend,
                                                                                "engine", jitter_s=0.001)
            if "engine_ended_without_summary" in r or not r["n"]:
                print(f"external_jack          {bpm:3d} BPM jitter1ms {r}", flush=True)
                continue
            print(f"external_jack          {bpm:3d} BPM jitter1ms notes {r['n']:4d}/{r['sent']:<4d} p50 {r['p50_ms']:6.3f} ms  "
                  f"p99 {r['p99_ms']:6.3f} ms  max {r['max_ms']:6.3f} ms  slipped {r['slipped_16ths']}", flush=True)
        cpu = result["runs"]["internal_120bpm_idle"]["engine_cpu_share"]
        result["engine_cpu_at_120bpm_percent_of_one_core"] = 100 * cpu
        print(f"engine CPU at 120 BPM (internal clock, idle): {100 * cpu:.1f}% of one core")
    finally:
        jack.terminate()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
