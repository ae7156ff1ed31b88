"""Is the model's tonal blur in its one-step predictions, in running free, or in where the window sits?

`stats` finds generated music's key-normalised pitch-class histogram further from the train split's than
real excerpts are (distance as `stats`). This takes bar-aligned excerpts of held-out pieces (validation
and test splits), P real bars then B measured bars, one per piece long enough, and measures over the B bars:
- the real notes;
- teacher forcing: the model predicts every step from the true past (each note also sees the true notes
  below it, as in training); its play probabilities taken as note mass ("expected"; also against the
  same excerpts' own histogram), and notes drawn from them at temperature T (median of several draws);
- running free: as many pieces of B bars from the C major seed chord (as `stats`), and the model's own
  continuation after being fed the excerpt's P real bars (and one more step).
If teacher forcing is as near as the real notes, the model's conditionals carry the keys and the gap is
in running free; comparing the real rows shows how much the figure depends on where a window sits
(also given: whole held-out pieces, and the first B bars of pieces at least twice as long).
Writes bench/results/teacher_forced.json. Run: python bench/bench_teacher_forced.py [--model M.onnx]
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from live_biaxial import stats
from live_biaxial.generation import generate, seed_step
from live_biaxial.model_file import Cell
from training import checkpoint
from training.data import load_data

ROOT = Path(__file__).resolve().parents[1]
JSB = ROOT.parent / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"
BAR = 16


def bar_aligned_excerpts(pieces: list[np.ndarray], n: int, steps: int, seed: int) -> list[tuple[int, np.ndarray]]:
    """n excerpts of steps+1 steps from distinct pieces long enough, each starting on a bar line: (start, matrix)."""
    rng = np.random.default_rng(seed)
    long_enough = [p for p in pieces if len(p) > steps]
    out = []
    for i in rng.permutation(len(long_enough))[:n]:
        p = long_enough[i]
        start = BAR * int(rng.integers((len(p) - steps - 1) // BAR + 1))
        out.append((start, p[start : start + steps + 1]))
    return out


@torch.no_grad()
def play_probabilities(model, excerpt: np.ndarray, start: int, temperature: float) -> np.ndarray:
    """(T+1, 78, 2) real steps -> (T, 78) P(play) of steps 1..T given the true past, at a temperature."""
    states = torch.from_numpy(excerpt[None].astype(np.float32))  # (1, T+1, 78, 2)
    steps = torch.arange(start, start + len(excerpt))[None]  # (1, T+1)
    logits = model(states, steps)[0, :, :, 0]  # (T, 78)
    return torch.sigmoid(logits / temperature).numpy()


def as_piece(play: np.ndarray) -> np.ndarray:
    """(T, 78) play mass or bits -> (T, 78, 2), the shape the statistics read."""
    return np.stack([play, np.zeros_like(play)], axis=-1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(ROOT / "exported" / "default.onnx"))
    p.add_argument("--pieces", type=int, default=160, help="excerpts at most (one per piece long enough)")
    p.add_argument("--bars", type=int, default=8, help="measured bars per excerpt")
    p.add_argument("--prime-bars", default="0,4", help="real bars before the measured ones, one setting each")
    p.add_argument("--splits", default="valid,test", help="the held-out pieces to excerpt")
    p.add_argument("--temperatures", default="1,0.8")
    p.add_argument("--draws", type=int, default=8, help="Bernoulli draws per temperature (seeds 0..)")
    p.add_argument("--data", default=str(JSB))
    p.add_argument("--json", default=str(ROOT / "bench" / "results" / "teacher_forced.json"))
    args = p.parse_args()
    t0 = time.perf_counter()

    data = load_data([args.data], log=lambda line: None)
    held_out = [x.matrix for split in args.splits.split(",") for x in data.splits[split]]
    ref = stats.key_normalised_histogram([x.matrix for x in data.splits["train"]])
    model, _ = checkpoint.load_model(args.model)
    model.eval()
    cell = Cell(args.model)
    steps = args.bars * BAR

    def distance(pieces: list[np.ndarray]) -> float:
        return stats.histogram_distance(stats.key_normalised_histogram(pieces), ref)

    openings = [x[:steps] for x in held_out if len(x) >= 2 * steps]
    result = {"model": args.model, "bars": args.bars, "splits": args.splits, "machine": platform.machine(),
              "real_whole_pieces": {"pieces": len(held_out), "distance": distance(held_out)},
              "real_openings_of_longer_pieces": {"pieces": len(openings), "distance": distance(openings)},
              "settings": []}
    print(f"real: whole pieces {result['real_whole_pieces']['distance']:.4f} ({len(held_out)}), first {args.bars} bars "
          f"of pieces at least twice as long {result['real_openings_of_longer_pieces']['distance']:.4f} ({len(openings)})")
    for prime in [BAR * int(b) for b in args.prime_bars.split(",")]:
        chosen = bar_aligned_excerpts(held_out, args.pieces, prime + steps, seed=0)  # each (prime + steps + 1, 78, 2)
        real = [x[prime + 1 :] for _, x in chosen]  # the measured bars
        real_hist = stats.key_normalised_histogram(real)
        setting = {"prime_bars": prime // BAR, "pieces": len(chosen), "real_excerpts": distance(real),
                   "teacher_forced": {}, "free_running": {}}
        for temperature in [float(t) for t in args.temperatures.split(",")]:
            probs = [play_probabilities(model, x, start, temperature)[prime:] for start, x in chosen]  # (steps, 78)
            draws = [distance([as_piece((rng.random(q.shape) < q).astype(np.float32)) for q in probs])
                     for rng in map(np.random.default_rng, range(args.draws))]  # one generator a draw, across pieces
            free = [generate(cell, cell.state_size, steps, seed_notes=seed_step(), seed=seed, temperature=temperature)[0]
                    for seed in range(len(chosen))]
            cont = [generate(cell, cell.state_size, steps, seed=seed, temperature=temperature, prime=x[: prime + 1])[0]
                    for seed, (_, x) in enumerate(chosen)]  # its own continuation of the real steps
            expected = [as_piece(q) for q in probs]
            tf = setting["teacher_forced"][str(temperature)] = {
                "expected": distance(expected),
                "expected_vs_the_same_excerpts": stats.histogram_distance(stats.key_normalised_histogram(expected),
                                                                          real_hist),
                "drawn_median": float(np.median(draws)), "drawn": draws,
                "notes_per_step": float(np.mean([q.sum(1).mean() for q in probs]))}
            fr = setting["free_running"][str(temperature)] = {
                "from_the_seed_chord": distance(free), "after_the_real_steps": distance(cont),
                "notes_per_step": float(np.mean([f[:, :, 0].sum(1).mean() for f in free])),
                "notes_per_step_after_the_real_steps": float(np.mean([f[:, :, 0].sum(1).mean() for f in cont]))}
            print(f"{prime // BAR} real bars first, {len(chosen)} excerpts, T={temperature}: real "
                  f"{setting['real_excerpts']:.4f}  teacher-forced expected {tf['expected']:.4f} (vs the same "
                  f"excerpts {tf['expected_vs_the_same_excerpts']:.4f}), drawn {tf['drawn_median']:.4f}  free from "
                  f"the seed chord {fr['from_the_seed_chord']:.4f}, after the real steps {fr['after_the_real_steps']:.4f}")
        result["settings"].append(setting)
    result["seconds"] = time.perf_counter() - t0
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
