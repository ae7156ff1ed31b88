"""Which sampling temperature makes a model's music look most like the data? `stats` per temperature.

For each temperature: N pieces of B bars from the C major seed (anti-silence on), compared with the
data exactly as `live-biaxial stats` does (valid split; pitch-class distance against the train
split), plus key clarity (mean best key-profile correlation of every 4-bar window) and the share of
pieces in a minor key (the key-normalised histogram mixes both modes, so their mix matters). Two disjoint
seed sets: choose a temperature on the first ("select", seeds 0..N-1), then check it on the second
("confirm", seeds 10000..), so that the choice is not fitted to the noise of one set.
Writes bench/results/temperature.json. Run: python bench/bench_temperature.py [--model M.onnx] [--temperatures 1,0.8,0.7]
"""

import argparse
import json
import platform
import time
from pathlib import Path

from live_biaxial import stats
from live_biaxial.generation import generate, seed_step
from live_biaxial.model_file import Cell
from training.data import load_data

JSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"
WINDOW = 64  # steps per key-clarity window (4 bars)


def add_stats_args(p: argparse.ArgumentParser, json_default: str) -> None:
    """The options of a bench that plays pieces with an exported model and scores them as `stats` does."""
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--pieces", type=int, default=128)
    p.add_argument("--bars", type=int, default=16)
    p.add_argument("--data", default=str(JSB))
    p.add_argument("--seed-sets", type=stats.seed_sets, default=stats.BENCH_SEED_SETS,
                   help="NAME=FIRST_SEED,...: sets of --pieces pieces each (default: %(default)s)")
    p.add_argument("--json", default=json_default)


def load_splits(cell: Cell, path: str) -> tuple[list, list]:
    """The valid and train pieces of the data at the model's grid -> (valid, train), each a list of (T, 78, 2)."""
    data = load_data([path], steps_per_beat=cell.steps_per_beat, min_steps=1, log=lambda s: None)
    return [x.matrix for x in data.splits["valid"]], [x.matrix for x in data.splits["train"]]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--temperatures", default="1,0.9,0.8,0.75,0.7,0.65,0.6")
    add_stats_args(p, "bench/results/temperature.json")
    args = p.parse_args()

    cell = Cell(args.model)
    steps_per_bar = 4 * cell.steps_per_beat
    valid, train = load_splits(cell, args.data)
    result = {"model": str(cell.path), "pieces": args.pieces, "bars": args.bars, "anti_silence": 1.0,
              "machine": platform.machine(), "data_key_clarity": stats.key_clarity(valid, WINDOW),
              "data_minor_share": stats.minor_share(valid), "runs": []}
    print(f"data (valid): key clarity ({WINDOW}-step windows) {result['data_key_clarity']:.3f}, "
          f"minor pieces {result['data_minor_share']:.2f}")
    for name, first in args.seed_sets.items():
        for temperature in (float(t) for t in args.temperatures.split(",")):
            t0 = time.perf_counter()
            gen = [generate(cell, cell.state_size, args.bars * steps_per_bar, seed_notes=seed_step(), seed=first + s,
                            temperature=temperature)[0] for s in range(args.pieces)]
            run = {"seeds": name, "first_seed": first, "temperature": temperature,
                   **stats.bench_run(gen, valid, train, steps_per_bar, WINDOW), "seconds": time.perf_counter() - t0}
            result["runs"].append(run)
            print(f"{name:7s} T={temperature:<5g} {stats.bench_line(run)}", flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
