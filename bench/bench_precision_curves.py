"""Does the precision change what training learns? Validation NLL of fp32 and bf16 runs from one seed.

Two `live-biaxial train` runs side by side, the same seed, data and batches, one with --precision fp32 and
one with --precision bf16 (each with the LSTM kernel it measures fastest, one CPU thread each), at the
shipped sizes [150,150]/[80,40] on the JSB chorales at 16ths; validation is computed in fp32 in both.
Writes bench/results/precision_curves.json (each run's validation NLL by batch, and its segments/s).
    python -m bench.bench_precision_curves [--batches 300] [--eval-every 50]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JSB = ROOT.parent / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=300, help="batches per run")
    ap.add_argument("--eval-every", type=int, default=50, help="validate every N batches")
    ap.add_argument("--seed", type=int, default=0, help="the seed both runs share")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "precision_curves.json"))
    args = ap.parse_args()
    runs = Path(tempfile.mkdtemp(prefix="precision-curves-"))
    procs = {}
    for prec in ("fp32", "bf16"):
        cmd = [sys.executable, "-m", "live_biaxial", "train", str(JSB), "--out", str(runs / prec),
               "--precision", prec, "--batches", str(args.batches), "--eval-every", str(args.eval_every),
               "--time-sizes", "150,150", "--pitch-sizes", "80,40", "--seed", str(args.seed), "--threads", "1",
               "--sample-every", "0", "--checkpoint-every", str(args.batches), "--device", "cpu"]
        procs[prec] = (subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), cmd)
    result = {"seed": args.seed, "batches": args.batches, "sizes": "[150,150]/[80,40]", "batch": "10 x 128 steps",
              "runs": {}}
    for prec, (proc, cmd) in procs.items():
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"{prec} run failed:\n{out}")
        rows = [json.loads(line) for line in (runs / prec / "metrics.jsonl").read_text().splitlines()]
        model_line = next(line for line in out.splitlines() if line.startswith("model:"))
        result["runs"][prec] = {
            "command": " ".join(cmd[1:]), "model_line": model_line,
            "valid_nll": {r["step"]: r["valid_nll"] for r in rows if "valid_nll" in r},
            "train_loss_last_50": sum(r["loss"] for r in rows[-50:]) / len(rows[-50:]),
            "segments_per_s": rows[-1]["segments_per_s"]}
    fp32, bf16 = (result["runs"][p]["valid_nll"] for p in ("fp32", "bf16"))
    result["valid_nll_difference"] = {step: bf16[step] - fp32[step] for step in fp32 if step in bf16}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for step in fp32:
        print(f"batch {step:5d}: valid NLL fp32 {fp32[step]:.3f}  bf16 {bf16.get(step, float('nan')):.3f}")
    print(f"segments/s: fp32 {result['runs']['fp32']['segments_per_s']:.2f}, "
          f"bf16 {result['runs']['bf16']['segments_per_s']:.2f}; wrote {args.out}")


if __name__ == "__main__":
    main()
