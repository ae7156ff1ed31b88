"""Adam vs AdaDelta (the original's) on the same batches: validation NLL after N batches.

python bench/bench_optimizer.py [--batches 150] [--reuse]   -> bench/results/optimizer.json
A [64,64]/[32,16] model on the JSB chorales (16ths), seed 0, 1 thread each; --reuse summarises
existing runs in runs/opt without training again.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JSB = ROOT.parent / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"


def summarise(run: Path) -> dict:
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    last = [m for m in metrics if "valid_nll" in m][-1]
    return {"batches": last["step"], "valid_nll": last["valid_nll"], "valid_nll_play": last["valid_nll_play"],
            "train_loss_last20": sum(m["loss"] for m in metrics[-20:]) / 20}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=150)
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    result = {"model": {"time": [64, 64], "pitch": [32, 16]}, "data": JSB.name}
    for opt in ("adam", "adadelta"):
        run = ROOT / "runs" / "opt" / opt
        if not args.reuse:
            subprocess.run([sys.executable, "-m", "live_biaxial", "train", str(JSB), "--out", str(run), "--optimizer", opt,
                            "--batches", str(args.batches), "--eval-every", str(args.batches), "--sample-every", "0",
                            "--time-sizes", "64,64", "--pitch-sizes", "32,16", "--threads", "1"], check=True)
        result[opt] = summarise(run)
        print(opt, result[opt])
    out = ROOT / "bench" / "results" / "optimizer.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
