"""Does pulling each piece toward a key it is asked for bring its pitch classes nearer the data's?

The one `stats` figure out of bounds is the key-normalised pitch-class distance, and much of it is the
mix of modes (bench_modes.py: the model ends minor in about a quarter of its pieces, the data in 45%).
So here every piece is given a key like the data's: minor with the train split's minor share (drawn per
piece), else major, always on C (the histogram is key-normalised, so the root does not matter). It hears
that key's one-bar cadence (as `generate --key`), then plays 16 bars at the model's temperature with
anti-silence on, and a play bias (the exported graph's per-note input) pulls it toward the key:
  none          the cadence alone
  scale B       -B on every note outside the key's scale (major / harmonic minor; `--lock` is B = inf)
  profile G     G x log(Krumhansl-Kessler profile / its mean) of the key: the tonic triad up, the rest down
  lock          the key's scale only (as `--lock`)
plus "chord" (the C major chord, no cadence, no pull: what `stats` plays) for reference. Beside the `stats`
rows: the share of pieces whose whole-piece key (Krumhansl-Kessler, as in `stats`) is the asked one, and
the share centred on G (the dominant of C, either mode).
Writes bench/results/key_pull.json.
Run: PYTHONPATH=. python bench/bench_key_pull.py [--model M.onnx] [--pulls "none,scale 1,profile 0.6"] [--seed-sets ...]
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_temperature import WINDOW, add_stats_args, load_splits  # noqa: E402

from live_biaxial import stats  # noqa: E402
from live_biaxial.controls import SCALES  # noqa: E402
from live_biaxial.generation import generate, key_prime, seed_step  # noqa: E402
from live_biaxial.model_file import Cell  # noqa: E402
from live_biaxial.representation import LOW_NOTE, N_NOTES  # noqa: E402

PULLS = "chord,none,scale 1,scale 2,lock,profile 0.3,profile 0.6,profile 1"
PITCH_CLASS = (np.arange(N_NOTES) + LOW_NOTE) % 12  # (78,) of each note, C = 0


def play_bias(pull: str, minor: bool) -> np.ndarray | None:
    """The per-note play bias (78,) of a pull toward C major / C minor (None: no pull)."""
    kind, _, amount = pull.partition(" ")
    if kind in ("chord", "none"):
        return None
    if kind == "profile":
        profile = stats.KK_MINOR if minor else stats.KK_MAJOR
        return (float(amount) * np.log(profile / profile.mean()))[PITCH_CLASS].astype(np.float32)
    in_scale = np.isin(PITCH_CLASS, SCALES["harmonic minor" if minor else "major"])
    penalty = np.inf if kind == "lock" else float(amount)
    return np.where(in_scale, 0.0, -penalty).astype(np.float32)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pulls", default=PULLS, help="comma-separated (default: %(default)s)")
    add_stats_args(p, "bench/results/key_pull.json")
    args = p.parse_args()

    cell = Cell(args.model)
    steps_per_bar = 4 * cell.steps_per_beat
    valid, train = load_splits(cell, args.data)
    asked_minor = stats.minor_share(train)
    result = {"model": str(cell.path), "pieces": args.pieces, "bars": args.bars, "temperature": cell.temperature,
              "anti_silence": 1.0, "asked_minor_share": asked_minor, "machine": platform.machine(), "runs": []}
    print(f"pieces asked to be minor: {asked_minor:.2f} (the train split's share)")
    for name, first in args.seed_sets.items():
        for pull in args.pulls.split(","):
            t0 = time.perf_counter()
            gen, asked = [], []
            for seed in range(first, first + args.pieces):
                minor = pull != "chord" and np.random.default_rng([seed, 1]).random() < asked_minor
                asked.append((0, minor))
                prime = None if pull == "chord" else key_prime(0, minor)
                gen.append(generate(cell, cell.state_size, args.bars * steps_per_bar, seed_notes=seed_step(0, minor),
                                    seed=seed, temperature=cell.temperature, play_bias=play_bias(pull, minor),
                                    prime=prime)[0])
            found = stats.piece_keys(gen)  # each piece's whole-piece key against the key it was asked for
            run = {"seeds": name, "first_seed": first, "pull": pull,
                   **stats.bench_run(gen, valid, train, steps_per_bar, WINDOW),
                   "asked_key_share": float(np.mean([f == a for a, f in zip(asked, found)])),
                   "on_dominant_share": float(np.mean([f is not None and f[0] == 7 for f in found])),
                   "seconds": time.perf_counter() - t0}
            result["runs"].append(run)
            print(f"{name:7s} {pull:12s} asked key {run['asked_key_share']:.2f} on G {run['on_dominant_share']:.2f}  "
                  f"{stats.bench_line(run)}", flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
