"""Training throughput: seconds per batch for each precision and LSTM path, beside the matmul floor.

For the default sizes [300,300]/[100,50] and the shipped [150,150]/[80,40], batches of 10 x 128 steps from
the JSB chorales, all measured in one run on the same batches:
  nn_lstm_fp32           torch's nn.LSTM (oneDNN) and nn.Dropout in fp32: the training path before FusedLSTM
  nn_lstm_bf16_autocast  the same under bf16 autocast: the old --bf16 (oneDNN's LSTM refuses it on some CPUs)
  onednn_fp32 / _bf16    FusedLSTM layers running torch's LSTM kernel (bf16 by autocast), ByteDropout
  fused_fp32 / _bf16     FusedLSTM's own recurrence, fp32 or bf16 matmuls (fp32 weights, gradients, cell state)
and the floor of each precision: the batch's matmul FLOPs (forward and backward) divided by the rate of
matmuls of the same shapes measured here. Writes bench/results/train_throughput.json. On a quiet machine:
    python -m bench.bench_train [--batches 3] [--threads 2]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.provenance import cpu_name
from live_biaxial_training import precision
from live_biaxial_training.config import ModelConfig
from live_biaxial_training.data import load_data, sample_batch
from live_biaxial_training.model import BiaxialLSTM, loss_per_step

ROOT = Path(__file__).resolve().parents[1]
JSB = ROOT.parent / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"
SIZES = {"default": ((300, 300), (100, 50)), "shipped": ((150, 150), (80, 40))}
BATCH, STEPS = 10, 128
PATHS = {"nn_lstm_fp32": ("nn", "fp32"), "nn_lstm_bf16_autocast": ("nn", "bf16"),
         "onednn_fp32": ("onednn", "fp32"), "onednn_bf16": ("onednn", "bf16"),
         "fused_fp32": ("fused", "fp32"), "fused_bf16": ("fused", "bf16")}


def with_nn_lstm(model: BiaxialLSTM) -> BiaxialLSTM:
    """The training path before FusedLSTM: torch's nn.LSTM layers (the same weights) and nn.Dropout."""
    model.drop = nn.Dropout(model.config.dropout)
    for layers in (model.time_layers, model.pitch_layers):
        for k, fused in enumerate(layers):
            lstm = nn.LSTM(fused.input_size, fused.hidden_size, batch_first=True)
            lstm.load_state_dict(fused.state_dict())
            layers[k] = lstm
    return model


def time_batches(model, opt, batches, autocast_bf16: bool) -> list[float]:
    times = []
    for k, (states, steps) in enumerate(batches):  # the first one warms up
        s, st = torch.from_numpy(states), torch.from_numpy(steps)
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast_bf16):
            logits = model(s, st)
        loss = loss_per_step(logits.float(), s[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if k:
            times.append(time.perf_counter() - t0)
    return times


def matmuls(time_sizes, pitch_sizes) -> list[tuple[int, int, int, int]]:
    """The forward matmuls of one batch as (m, k, n, count): per layer the input projection of all steps at
    once and the recurrence, one per step; then the output layer."""
    out = []
    rows, steps, inputs = BATCH * 78, STEPS, 80
    for h in time_sizes:  # time axis: the notes of every segment in the batch, walked along time
        out += [(rows * steps, inputs, 4 * h, 1), (rows, h, 4 * h, steps)]
        inputs = h
    rows, steps, inputs = BATCH * STEPS, 78, time_sizes[-1] + 2
    for h in pitch_sizes:  # pitch axis: every step of every segment, walked up the notes
        out += [(rows * steps, inputs, 4 * h, 1), (rows, h, 4 * h, steps)]
        inputs = h
    return out + [(BATCH * STEPS * 78, pitch_sizes[-1], 2, 1)]


def floor(time_sizes, pitch_sizes, dtype, rates: dict) -> dict:
    """Seconds per batch if every matmul ran at the rate measured for its shape; backward = 2x forward."""
    flops = seconds = 0.0
    for m, k, n, count in matmuls(time_sizes, pitch_sizes):
        key = (m, k, n, str(dtype))
        if key not in rates:
            rates[key] = precision.matmul_gflops(dtype, (m, k, n), seconds=0.2)
        f = 3 * 2 * m * k * n * count
        flops += f
        seconds += f / (rates[key] * 1e9)
    return {"s_per_batch": seconds, "gflop_per_batch": flops / 1e9}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=3, help="timed batches per cell (after one warm-up)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES), help="model sizes to time")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "train_throughput.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pieces = load_data([str(JSB)], log=lambda s: None).splits["train"]
    batches = [sample_batch(pieces, np.random.default_rng(i), BATCH, STEPS) for i in range(args.batches + 1)]
    result = {"threads": args.threads, "torch": torch.__version__, "cpu": cpu_name(),
              "cpu_bf16": precision.cpu_has_bf16(), "batch": f"{BATCH} x {STEPS} steps", "sizes": {}}
    rates: dict = {}
    for size in args.sizes:
        time_sizes, pitch_sizes = SIZES[size]
        cells = {"time_sizes": time_sizes, "pitch_sizes": pitch_sizes}
        for name, (layers, prec) in PATHS.items():
            torch.manual_seed(0)
            model = BiaxialLSTM(ModelConfig(time_sizes, pitch_sizes))
            if layers == "nn":
                model = with_nn_lstm(model)
            else:
                precision.apply(model, prec, torch.device("cpu"), kernel=layers)
            opt = torch.optim.Adam(model.parameters())
            try:
                t = time_batches(model, opt, batches, autocast_bf16=layers == "nn" and prec == "bf16")
            except RuntimeError as err:
                cells[name] = {"error": str(err).splitlines()[0][:200]}
                print(f"{size} {name}: not available here ({cells[name]['error'][:80]}...)")
                continue
            med = float(np.median(t))
            cells[name] = {"s_per_batch_median": med, "s_per_batch_all": t, "segments_per_s": BATCH / med}
            print(f"{size} {name}: {med:.2f} s per batch (median of {len(t)})", flush=True)
        for prec in ("fp32", "bf16"):
            cells[f"floor_{prec}"] = floor(time_sizes, pitch_sizes, precision.DTYPES[prec], rates)
        today = cells["nn_lstm_fp32"]["s_per_batch_median"]
        for name in PATHS:
            if "s_per_batch_median" in cells[name]:
                prec = name.rsplit("_", 1)[1] if not name.endswith("autocast") else "bf16"
                cells[name]["speedup_vs_nn_lstm_fp32"] = today / cells[name]["s_per_batch_median"]
                cells[name]["x_floor"] = cells[name]["s_per_batch_median"] / cells[f"floor_{prec}"]["s_per_batch"]
        best = min((n for n in PATHS if "s_per_batch_median" in cells[n]), key=lambda n: cells[n]["s_per_batch_median"])
        print(f"{size}: floor fp32 {cells['floor_fp32']['s_per_batch']:.2f} s, bf16 "
              f"{cells['floor_bf16']['s_per_batch']:.2f} s ({cells['floor_fp32']['gflop_per_batch']:.0f} GFLOP); "
              f"fastest {best}: {cells[best]['speedup_vs_nn_lstm_fp32']:.2f}x today's fp32, "
              f"{cells[best]['x_floor']:.2f}x its floor", flush=True)
        cells["fastest"] = best
        result["sizes"][size] = cells
    result["matmul_gflops"] = {f"{m}x{k}x{n} {d.split('.')[-1]}": r for (m, k, n, d), r in rates.items()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
