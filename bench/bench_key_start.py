"""Does the model play in the key it is asked for? `generate --key K [--lock]` over every key.

For each of the 24 major and minor keys and N seeds: a piece of B bars from that key's tonic chord
alone or after a heard cadence (I IV V I, 2, 4 or 8 steps a chord; not part of the piece; `--key`
uses 4), anti-silence on, the model's own temperature, with and without --lock (its scale only:
natural and harmonic minor for minor keys). The key of bars 1-4 and of bars 5-8 (Krumhansl-Kessler, as in `stats`) is
compared with the asked key: "exact" = the same key, "signature" = the same key signature (also
counts the relative major/minor). For scale: real chorales (valid split), the key of their bars 1-4
against the key of the whole piece, measured the same way (how often the key finder itself agrees).
Writes bench/results/key_start.json. Run: python bench/bench_key_start.py [--model M.onnx] [--seeds 8]
"""

import argparse
import itertools
import json
import platform
import time
from pathlib import Path

import numpy as np

from live_biaxial import stats
from live_biaxial.controls import NOTE_NAMES, Controls
from live_biaxial.generation import generate, key_prime, seed_step
from live_biaxial.model_file import Cell
from training.data import load_data

JSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"


def key_at(piece: np.ndarray, start: int, steps: int) -> tuple[int, bool] | None:
    window = piece[start : start + steps]
    return stats.key_of(stats.pitch_class_histogram(window)) if window[:, :, 0].any() else None


def shares(asked: list[tuple[int, bool]], found: list[tuple[int, bool] | None]) -> dict:
    exact = [f == a for a, f in zip(asked, found)]
    signature = [f is not None and stats.fifths_between(a, f) == 0 for a, f in zip(asked, found)]
    return {"exact": float(np.mean(exact)), "signature": float(np.mean(signature))}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--seeds", type=int, default=8, help="pieces per key")
    p.add_argument("--bars", type=int, default=8)
    p.add_argument("--data", default=str(JSB))
    p.add_argument("--json", default="bench/results/key_start.json")
    args = p.parse_args()

    cell = Cell(args.model)
    bar = 4 * cell.steps_per_beat
    window = 4 * bar
    result = {"model": str(cell.path), "seeds": args.seeds, "bars": args.bars, "temperature": cell.temperature,
              "machine": platform.machine(), "runs": []}
    # the tonic chord alone, or a heard I IV V I of 2 / 4 / 8 steps a chord
    starts = {"chord": None, "cadence2": 2, "cadence4": 4, "cadence8": 8}
    runs = [(start, minor, lock) for start in starts for minor in (False, True)
            for lock in ((None, "major") if not minor else (None, "minor", "harmonic minor"))]
    for start, minor, lock in runs:
        t0 = time.perf_counter()
        per_chord, scale = starts[start], "minor" if minor else "major"
        asked, first, second, struck = [], [], [], []
        for root, seed in itertools.product(range(12), range(args.seeds)):
            bias = Controls(key_root=root, scale=lock).play_bias if lock else None
            prime = None if per_chord is None else key_prime(root, minor, per_chord)
            piece = generate(cell, cell.state_size, args.bars * bar, seed_notes=seed_step(root, minor), seed=seed,
                             temperature=cell.temperature, play_bias=bias, prime=prime)[0]
            asked.append((root, minor))
            first.append(key_at(piece, 0, window))
            second.append(key_at(piece, window, window))
            struck.append(piece[:, :, 1].sum() / args.bars)
        run = {"start": start, "mode": scale, "lock": lock, "pieces": len(asked),
               "bars_1_4": shares(asked, first), "bars_5_8": shares(asked, second),
               "struck_per_bar": float(np.mean(struck)),
               "exact_by_root": {NOTE_NAMES[r]: shares(asked[rows], first[rows])["exact"]  # pieces in (root, seed) order
                                 for r in range(12) for rows in [slice(r * args.seeds, (r + 1) * args.seeds)]},
               "seconds": time.perf_counter() - t0}
        result["runs"].append(run)
        print(f"{start:8s} {scale:5s} lock {lock or 'off':14s}  bars 1-4: exact {run['bars_1_4']['exact']:.2f} "
              f"signature {run['bars_1_4']['signature']:.2f}   bars 5-8: exact {run['bars_5_8']['exact']:.2f} "
              f"signature {run['bars_5_8']['signature']:.2f}   struck per bar {run['struck_per_bar']:.1f}", flush=True)
    data = load_data([args.data], steps_per_beat=cell.steps_per_beat, min_steps=2 * window, log=lambda s: None)
    pieces = [x.matrix for x in data.splits["valid"]]
    whole = [stats.key_of(stats.pitch_class_histogram(x)) for x in pieces]
    result["data_struck_per_bar"] = float(np.mean([x[:, :, 1].sum() / (len(x) / bar) for x in pieces]))
    print(f"data: struck per bar {result['data_struck_per_bar']:.1f}")
    for minor in (False, True):
        sel = [i for i, k in enumerate(whole) if k[1] == minor]
        row = {"mode": "minor" if minor else "major", "pieces": len(sel),
               "bars_1_4": shares([whole[i] for i in sel], [key_at(pieces[i], 0, window) for i in sel]),
               "bars_5_8": shares([whole[i] for i in sel], [key_at(pieces[i], window, window) for i in sel])}
        result.setdefault("data_against_whole_piece", []).append(row)
        print(f"data  {row['mode']:5s} ({row['pieces']} valid chorales of 8+ bars, against the whole piece's key)  "
              f"bars 1-4: exact {row['bars_1_4']['exact']:.2f} signature {row['bars_1_4']['signature']:.2f}   "
              f"bars 5-8: exact {row['bars_5_8']['exact']:.2f} signature {row['bars_5_8']['signature']:.2f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
