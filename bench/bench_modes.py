"""How much of the pitch-class distance is the mix of major and minor pieces?

`stats` brings each piece to C by its best-fitting key: major pieces to C major, minor ones to C minor.
The two differ in E/Eb, A/Ab and B/Bb, so a set of pieces with too few minor ones is far from the data's
histogram even when each mode alone is right. This bench measures, against the train split's histogram:
  data mixes    real train pieces, their major and minor histograms mixed at minor shares 0.1..0.45
                (what the mode mix alone costs)
  generated     128 pieces of 16 bars at 0.8 (the bench_sampling.py walk, two seed sets) from a C major
                chord and from a C minor chord: the share of pieces whose whole-piece key is minor, the
                distance as drawn, each mode's distance from the data's same mode, and the distance with
                the generated major and minor histograms reweighted to the data's minor share
Writes bench/results/modes.json. Run: PYTHONPATH=. python bench/bench_modes.py [--model M.onnx] [--pieces 128]
"""

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sampling import JSB, TEMPERATURE, load_model, sample  # noqa: E402

from live_biaxial import stats  # noqa: E402
from live_biaxial.generation import seed_step  # noqa: E402
from live_biaxial.model_file import DEFAULT_MODEL  # noqa: E402
from training.data import load_data  # noqa: E402

MIXES = (0.1, 0.2, 0.25, 0.3, 0.35, 0.45)


def mixed(hists: dict, minor_share: float):
    """(12,) the major and minor key-normalised histograms mixed at this share of minor."""
    return (1 - minor_share) * hists["major"] + minor_share * hists["minor"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--pieces", type=int, default=128)
    p.add_argument("--bars", type=int, default=16)
    p.add_argument("--data", default=str(JSB))
    p.add_argument("--json", default="bench/results/modes.json")
    args = p.parse_args()
    torch.set_num_threads(1)

    data = load_data([args.data], steps_per_beat=4, min_steps=1, log=lambda s: None)
    train = [x.matrix for x in data.splits["train"]]
    ref = stats.key_normalised_histogram(train)  # (12,)
    ref_modes = stats.mode_histograms(train)
    data_minor = stats.minor_share(train)
    result = {"model": args.model, "temperature": TEMPERATURE, "pieces": args.pieces, "bars": args.bars,
              "machine": platform.machine(), "data_minor_share": data_minor,
              "data_mixes": {str(w): stats.histogram_distance(mixed(ref_modes, w), ref) for w in MIXES}, "runs": []}
    print(f"train pieces: {data_minor:.2f} minor; their modes mixed at " +
          ", ".join(f"{w}: {d:.4f}" for w, d in result["data_mixes"].items()))

    model = load_model(args.model)
    for seeds, first in stats.seed_sets().items():
        for chord, minor in (("C major", False), ("C minor", True)):
            noise = torch.rand(args.bars * 16, args.pieces, 78, 2, generator=torch.Generator().manual_seed(first))
            out = sample(model, noise, "plain", seed_step(0, minor))  # (T, B, 78, 2)
            gen = [out[:, b] for b in range(args.pieces)]
            modes = stats.mode_histograms(gen)
            run = {"seeds": seeds, "seed_chord": chord, "minor_share": stats.minor_share(gen),
                   "distance": stats.histogram_distance(stats.key_normalised_histogram(gen), ref),
                   "major_to_data_major": stats.histogram_distance(modes["major"], ref_modes["major"]),
                   "minor_to_data_minor": stats.histogram_distance(modes["minor"], ref_modes["minor"]),
                   "reweighted_to_data_share": stats.histogram_distance(mixed(modes, data_minor), ref)}
            result["runs"].append(run)
            print(f"{seeds:7s} from {chord}: minor {run['minor_share']:.2f}  distance {run['distance']:.4f}  "
                  f"major/major {run['major_to_data_major']:.4f}  minor/minor {run['minor_to_data_minor']:.4f}  "
                  f"reweighted to {data_minor:.2f} minor {run['reweighted_to_data_share']:.4f}", flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
