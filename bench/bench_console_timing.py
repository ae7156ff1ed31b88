"""Does the console delay notes? Onset error at the port with the console visible and redrawing.

Side by side in one run, each at 120 and 300 BPM (internal clock, measured at the port as in
bench_timing.py (a)):
  headless          the engine alone (`play --no-tui`);
  console_thread    the engine's threads beside the Textual console in one process, drawn into a
                    real terminal (a tmux pane, 130 x 45) while keys arrive every 0.25 s;
  headless_busy     the engine alone beside another process keeping a core busy: what the engine
                    would see with the console moved to a process of its own (the console then
                    competes for the CPU, no longer for the GIL).
Also the CPU share of the console's thread and of the whole process. Writes
bench/results/console_timing.json. Needs tmux. Run on a quiet machine:
    python -m bench.bench_console_timing [--model exported/default.onnx] [--bars 8]
"""

import argparse
import json
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.bench_timing import GridSink, StampingPort, errors_ms, summary

ROOT = Path(__file__).resolve().parents[1]

KEYS = ["v", "b", "t", "g", "k", "a"]  # velocity, temperature, key root, anti-silence: each redraws


def child(model: str, bpm: float, bars: int, out: str, console: bool) -> None:
    """One run in this process; writes its figures to ``out``."""
    from live_biaxial.clock import InternalClock
    from live_biaxial.engine import Engine
    from live_biaxial.model_file import Cell

    sys.setswitchinterval(0.0005)  # as `live-biaxial play` does
    port = StampingPort()
    engine = Engine(Cell(model), port).open()
    sink = GridSink(engine)
    clock = InternalClock(sink, bpm)
    r0, t0, ui0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter(), time.thread_time()
    if console:
        from live_biaxial.console import Console

        app = Console(engine, clock=clock, ports="out: bench")
        thread = clock.start_thread(bars * 16)
        threading.Thread(target=lambda: (thread.join(), app.call_from_thread(app.exit)), daemon=True).start()
        app.run()
    else:
        clock.run(bars * 16)
    r1, t1, ui1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter(), time.thread_time()
    engine.close()
    cpu = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) / (t1 - t0)
    result = {**summary(errors_ms(port.times, sink.grid)), "process_cpu_share": cpu, "late_steps": engine.late}
    if console:
        result["console_thread_cpu_share"] = (ui1 - ui0) / (t1 - t0)
    Path(out).write_text(json.dumps(result))


def run_child(args, bpm: float, mode: str, tmp: Path) -> dict:
    out = tmp / f"{mode}_{bpm:g}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "bench.bench_console_timing", "--child", str(out), "--model", args.model,
           "--bars", str(args.bars), "--bpm", str(bpm)]
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if mode == "headless_busy" else None
    try:
        if mode == "console_thread":
            sock = "lb-bench-console"
            subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "bench", "-x", "130", "-y", "45",
                            "-c", str(ROOT), " ".join([*cmd, "--console"])], check=True)
            i = 0
            while not out.exists():
                time.sleep(0.25)
                subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "bench", KEYS[i % len(KEYS)]],
                               capture_output=True)
                i += 1
            time.sleep(0.5)
            subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
        else:
            subprocess.run(cmd, check=True, cwd=ROOT)
    finally:
        if hog:
            hog.kill()
    return json.loads(out.read_text())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "exported" / "default.onnx"))
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--bpm", type=float, default=120)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "console_timing.json"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--console", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.model, args.bpm, args.bars, args.child, args.console)
        return
    if shutil.which("tmux") is None:
        sys.exit("bench_console_timing: needs tmux (apt-get install tmux)")
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="lb-console-bench-"))
    result = {"model": args.model, "bars": args.bars, "runs": {}}
    for bpm in (120, 300):
        for mode in ("headless", "console_thread", "headless_busy"):
            r = run_child(args, bpm, mode, tmp)
            result["runs"][f"{mode}_{bpm}bpm"] = r
            extra = f"  console thread CPU {100 * r['console_thread_cpu_share']:.1f}%" if "console_thread_cpu_share" in r else ""
            print(f"{mode:15s} {bpm:3d} BPM n {r['n']:4d}  p50 {r['p50_ms']:6.3f} ms  p99 {r['p99_ms']:6.3f} ms  "
                  f"max {r['max_ms']:6.3f} ms  late {r['late_steps']}  process CPU {100 * r['process_cpu_share']:.1f}%"
                  + extra, flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
