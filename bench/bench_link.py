"""Onset error of `play --clock link` against the Link beat grid of a second peer. Writes bench/results/link.json.

Inside a network namespace of its own (`unshare -n`, as root: the peers reach only a private loopback),
tests/link_session.py founds a Link session, starts `live-biaxial play --clock link` (its notes to a JACK
port of the session's process, JACK's dummy driver) and plays it: a start, a tempo change, a stop and a
start again. Error = each note-on's arrival minus the session's 16th before it, both on Link's clock.
Also: the 16th of the session's bar on which each bar of ours ended (15 when our bars are its bars).
    python -m bench.bench_link [--model exported/default.onnx] [--bars-per-part 8] [--period 32]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def summary(err: np.ndarray) -> dict:
    return {"notes": int(len(err)), "p50_ms": float(np.median(err)), "p99_ms": float(np.percentile(err, 99)),
            "max_ms": float(err.max()), "min_ms": float(err.min())}


def main() -> int:
    from tests.link_session import analyse

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "exported" / "default.onnx"))
    ap.add_argument("--bars-per-part", type=float, default=8.0)
    ap.add_argument("--period", type=int, default=32, help="JACK period in frames")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "link.json"))
    args = ap.parse_args()
    name = f"benchlink{os.getpid()}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1")
    jack = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", str(args.period)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(2)
    runs = {}
    try:
        for bpm, new_bpm in ((120, 150), (90, 175)):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "session.json"
                r = subprocess.run(["unshare", "-n", "--", sys.executable, "-m", "tests.link_session", "--model",
                                    args.model, "--out", str(out), "--bpm", str(bpm), "--new-bpm", str(new_bpm),
                                    "--bars-per-part", str(args.bars_per_part), "--engine-bpm", "100"],
                                   cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
                if r.returncode != 0:
                    raise SystemExit(f"bench_link: the session failed: {r.stderr.strip()}")
                result = json.loads(out.read_text())
            a = analyse(result)
            runs[f"{bpm}_to_{new_bpm}bpm"] = {
                "onset_error": summary(a["onset_error_ms"]),
                "bar_end_index": sorted(set(a["bar_end_index"])), "bars": len(a["bar_end_index"]),
                "hanging_at_stop": len(a["hanging_at_stop"]), "notes_while_stopped": a["ons_while_stopped"],
                "note_offs_lost_in_transit": a["double_ons"],
                "tempo_after_join": result["tempo_after_join"], "engine_bpm_option": 100.0,
                "sixteenth_ms": a["sixteenth_ms"],
            }
            print(f"{bpm} -> {new_bpm} BPM: {runs[f'{bpm}_to_{new_bpm}bpm']}")
    finally:
        jack.terminate()
        jack.wait(timeout=10)
    import platform

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    model = os.path.relpath(args.model, ROOT) if Path(args.model).resolve().is_relative_to(ROOT) else args.model
    Path(args.out).write_text(json.dumps({"model": model, "jack_period_frames": args.period, "cpu": cpu,
                                          "bars_per_part": args.bars_per_part, "runs": runs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
