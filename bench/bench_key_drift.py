"""Does generated music stay in its key? Key drift and pitch-class distance, models side by side.

For each ONNX model: N pieces of B bars from the C major seed (anti-silence on, --temperature, 1 unless
given, whatever the model's own; seeds 0..N-1, as `live-biaxial stats`), then
- key drift: the key (Krumhansl-Kessler) of the last 4 bars against the first 4, in fifths, after 16
  bars and after B bars;
- key clarity: how well each whole 4-bar window fits its best key profile (correlation), averaged;
- modes: the share of pieces in minor, and each mode's key-normalised histogram (first 16 bars) against
  the train split's pieces of that mode (distance, and the difference per pitch class);
- pitch-class distance: the key-normalised pitch-class histogram of the first 16 bars against the
  validation split's (the `stats` figure), for 16 pieces and for all N;
and the same for real excerpts of the train split (pieces long enough; distance: the median of 32 draws).
Writes bench/results/key_drift.json. Run: python bench/bench_key_drift.py MODEL.onnx [MODEL.onnx ...]
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from live_biaxial import stats
from live_biaxial.generation import generate, seed_step
from live_biaxial.model_file import Cell
from training.data import load_data

JSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"
BAR, WINDOW = 16, 64  # steps per bar, steps whose key is compared (4 bars)


def distances(pieces, ref_hist, n):
    return {str(k): stats.histogram_distance(stats.key_normalised_histogram([p[: 16 * BAR] for p in pieces[:k]]), ref_hist)
            for k in sorted({16, n}) if k <= len(pieces)}


def modes(pieces, ref_modes):
    """Minor share; each mode's key-normalised histogram against the train split's, with the differences
    per pitch class (percentage points; index 0 = the tonic)."""
    own = stats.mode_histograms([p[: 16 * BAR] for p in pieces])
    return {"minor_share": stats.minor_share([p[: 16 * BAR] for p in pieces]),
            **{f"{m}_distance": stats.histogram_distance(own[m], ref_modes[m]) for m in own},
            **{f"{m}_minus_data_points": [round(100 * float(x), 2) for x in own[m] - ref_modes[m]] for m in own}}


def measure(pieces, ref_hist, n, ref_modes):
    return {"key_clarity": stats.key_clarity(pieces, WINDOW), "modes_16_bars": modes(pieces, ref_modes),
            "drift_16_bars": stats.key_drift([p[: 16 * BAR] for p in pieces], WINDOW),
            "drift_all": stats.key_drift(pieces, WINDOW),
            "pitch_class_distance": distances(pieces, ref_hist, n)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--pieces", type=int, default=64)
    p.add_argument("--bars", type=int, default=32)
    p.add_argument("--data", default=str(JSB))
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--json", default="bench/results/key_drift.json")
    args = p.parse_args()

    data = load_data([args.data], steps_per_beat=4, min_steps=1, log=lambda s: None)
    train = [x.matrix for x in data.splits["train"]]
    ref_hist = stats.key_normalised_histogram([x.matrix for x in data.splits["valid"]])
    ref_modes = stats.mode_histograms(train)
    steps = args.bars * BAR
    long_enough = [x for x in train if len(x) >= steps]
    real = stats.excerpts(long_enough, len(long_enough), steps, seed=0)
    real_16 = [e[: 16 * BAR] for e in stats.excerpts(train, len(train), 16 * BAR, seed=0) if len(e) == 16 * BAR]
    result = {
        "pieces": args.pieces, "bars": args.bars, "window_steps": WINDOW, "temperature": args.temperature,
        "machine": platform.machine(),
        "data": {
            "key_clarity": stats.key_clarity(real_16, WINDOW),
            "modes_16_bars": modes(real_16, ref_modes),
            "drift_16_bars": stats.key_drift(real_16, WINDOW),
            "drift_all": stats.key_drift(real, WINDOW),
            "pitch_class_distance_median_of_32": {str(k): float(np.median([stats.histogram_distance(
                stats.key_normalised_histogram(stats.excerpts(train, k, 16 * BAR, seed)), ref_hist) for seed in range(32)]))
                for k in sorted({16, args.pieces})},
        },
        "models": {},
    }
    print(f"data: {len(real_16)} excerpts of 16 bars, {len(real)} of {args.bars} bars: {json.dumps(result['data'])}")
    for path in args.models:
        cell = Cell(path)
        t0 = time.perf_counter()
        gen = [generate(cell, cell.state_size, steps, seed_notes=seed_step(), seed=s,
                        temperature=args.temperature)[0] for s in range(args.pieces)]
        m = measure(gen, ref_hist, args.pieces, ref_modes)
        m.update(batches=cell.describe().get("batches"), key_memory_steps=cell.describe().get("key_memory_steps", "0"),
                 seconds=time.perf_counter() - t0)
        result["models"][path] = m
        print(f"{path}: {json.dumps(m)}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
