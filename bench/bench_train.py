"""Training throughput at the default sizes: segments/s and seconds per default batch (10 x 128).

fp32, and bf16 autocast where the CPU's oneDNN LSTM accepts it. Writes bench/results/train_throughput.json.
Run on a quiet machine: python bench/bench_train.py [--batches 4] [--threads 2]
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from live_biaxial.training.config import ModelConfig
from live_biaxial.training.data import load_data, sample_batch
from live_biaxial.training.model import BiaxialLSTM, loss_per_step

JSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"


def time_batches(model, opt, pieces, n, bf16):
    times = []
    for i in range(n + 1):  # the first batch warms up
        states, steps = sample_batch(pieces, np.random.default_rng(i), 10, 128)
        s = torch.from_numpy(states)
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(s, torch.from_numpy(steps))
        loss = loss_per_step(logits.float(), s[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - t0)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_throughput.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pieces = load_data([str(JSB)], log=lambda s: None).splits["train"]
    result = {"threads": args.threads, "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
              "sizes": {"time": [300, 300], "pitch": [100, 50]}, "batch": "10 x 128 steps"}
    for name, bf16 in (("fp32", False), ("bf16_autocast", True)):
        torch.manual_seed(0)
        model = BiaxialLSTM(ModelConfig())
        opt = torch.optim.Adam(model.parameters())
        try:
            t = time_batches(model, opt, pieces, args.batches, bf16)
        except RuntimeError as err:
            result[name] = {"error": str(err).splitlines()[0][:200]}
            print(f"{name}: not available here ({result[name]['error'][:90]}...)")
            continue
        med = float(np.median(t))
        result[name] = {"s_per_batch_median": med, "s_per_batch_all": t, "segments_per_s": 10 / med}
        print(f"{name}: {med:.2f} s per batch (median of {len(t)}), {10 / med:.2f} segments/s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
