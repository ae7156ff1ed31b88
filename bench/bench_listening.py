"""Does the improviser accompany? Its notes against a player's part, stepped through the exported model with
the same cell calls, controls (the model's temperature, anti-silence 1) and seed step as `play`.

Cases, each over several seeds (or pieces):
  progressions  a triad held each bar, struck on the bar line, in several major and minor keys (16 bars)
  key change    8 bars of I IV V I in C major, then 8 in E major: 16ths until its notes follow
  soprano/bass  the soprano, or the bass, of the JSB test chorales: the model plays the other voices
Per case: its note-steps that are tones of the current chord (the held triad; for chorales, the beat's
best-fitting triad of all four real voices), tones of the beat's best-fitting triad of what sounded (its
notes and the player's: another harmony than Bach's counts too), in the key, exactly on a pitch the player sounds, notes per
16th; beside the same for the data (the chorales' real other voices) and for a solo model that hears the
player merged into its own notes (the previous default, exported/solo.onnx). Writes one JSON:
    python -m bench.bench_listening [--model exported/default.onnx] [--merged exported/solo.onnx]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from live_biaxial.model_file import Cell
from live_biaxial.steering.generation import generate, seed_step
from live_biaxial_training.measures.listening import (best_triads, doubling_share, notes_per_step, scale_mask, share_in,
                                          steps_to_follow, triad_mask)
from live_biaxial.music.representation import LOW_NOTE, N_NOTES
from live_biaxial_training.measures.stats import key_of, pitch_class_histogram
from live_biaxial_training.parts import voices_matrix  # numpy only

ROOT = Path(__file__).resolve().parents[1]
JSB = ROOT.parent / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"
NAMES = {n: i for i, n in enumerate(["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"])}
# (key, chords a bar each): root name and quality, the player's triads in root position round middle C
PROGRESSIONS = {
    "C major I vi IV V": ("C", False, ["C", "Am", "F", "G"]),
    "A minor vi IV I V (Am F C G)": ("C", False, ["Am", "F", "C", "G"]),
    "Eb major (Eb Ab Bb Cm)": ("Eb", False, ["Eb", "Ab", "Bb", "Cm"]),
    "E major (E C#m A B)": ("E", False, ["E", "C#m", "A", "B"]),
    "A minor i iv V i": ("A", True, ["Am", "Dm", "E", "Am"]),
    "D minor i VI iv V": ("D", True, ["Dm", "Bb", "Gm", "A"]),
}
KEY_CHANGE = (("C", ["C", "F", "G", "C"]), ("E", ["E", "A", "B", "E"]))


def chord(name: str) -> tuple[int, str]:
    minor = name.endswith("m")
    return NAMES[name.rstrip("m")], "minor" if minor else "major"


def held_triads(chords: list[str], bars: int) -> tuple[np.ndarray, np.ndarray]:
    """-> the player's part (bars*16, 78, 2) and each step's chord classes (bars*16, 12)."""
    part = np.zeros((bars * 16, N_NOTES, 2), np.float32)
    classes = np.zeros((bars * 16, 12), bool)
    for bar in range(bars):
        root, quality = chord(chords[bar % len(chords)])
        base = 55 + (root - 55) % 12  # the root between G3 and F#4
        pitches = [base + i for i in ((0, 4, 7) if quality == "major" else (0, 3, 7))]
        s = slice(bar * 16, (bar + 1) * 16)
        part[s, [p - LOW_NOTE for p in pitches], 0] = 1
        part[bar * 16, [p - LOW_NOTE for p in pitches], 1] = 1
        classes[s] = triad_mask(root, quality)
    return part, classes


def play_along(cell: Cell, part: np.ndarray, seed: int, no_doubling: bool = False) -> np.ndarray:
    notes, _ = generate(cell, cell.state_size, len(part), seed_notes=seed_step(), seed=seed, anti_silence=1.0,
                        temperature=cell.temperature, human=part, leave_players_notes=no_doubling)
    return notes


def figures(notes, part, chords, scale) -> dict:
    together = np.maximum(notes, part)  # its notes and the player's: the beat's best triad of what sounded
    return {"chord_tones": share_in(notes, chords), "own_triad": share_in(notes, best_triads(together)),
            "in_key": share_in(notes, scale),
            "doubles_player": doubling_share(notes, part), "notes_per_16th": notes_per_step(notes)}


def mean(rows: list[dict]) -> dict:
    return {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}


def chorale_cases(pieces: list, player: int, cells: dict, seeds: int, no_doubling: bool) -> dict:
    out = {name: [] for name in [*cells, "data"]}
    for k, v in enumerate(pieces):
        v = np.asarray(v, np.int64)
        others = [i for i in range(4) if i != player]
        part, real = voices_matrix(v, [player]), voices_matrix(v, others)
        everything = voices_matrix(v, range(4))
        chords = best_triads(everything)
        tonic, minor = key_of(pitch_class_histogram(everything))
        scale = scale_mask(tonic, minor)
        out["data"].append(figures(real, part, chords, scale))
        for name, cell in cells.items():
            for s in range(seeds):
                out[name].append(figures(play_along(cell, part, 1000 * k + s, no_doubling), part, chords, scale))
    return {name: mean(rows) for name, rows in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "exported" / "default.onnx"))
    ap.add_argument("--merged", default=str(ROOT / "exported" / "solo.onnx"), help="a solo model, for comparison")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--pieces", type=int, default=24, help="test chorales per chorale case")
    ap.add_argument("--temperature", type=float, help="the listening model's (default: its own, as play)")
    ap.add_argument("--no-doubling", action="store_true", help="as play --no-doubling: the player's pitches closed to the model")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "listening.json"))
    args = ap.parse_args()
    cells = {"listening": Cell(args.model), "merged": Cell(args.merged)}
    if args.temperature:
        cells["listening"].temperature = args.temperature
    if not cells["listening"].listens:
        raise SystemExit(f"{args.model}: a solo model; the bench wants one that listens")
    t0 = time.time()
    result = {"model": Path(args.model).name, "merged": Path(args.merged).name, "seeds": args.seeds,
              "temperature": cells["listening"].temperature, "leave_players_notes": args.no_doubling,
              "merged_temperature": cells["merged"].temperature,
              "cases": {}}
    for name, (key, minor, chords) in PROGRESSIONS.items():
        part, classes = held_triads(chords, 16)
        scale = scale_mask(NAMES[key], minor)
        result["cases"][name] = {m: mean([figures(play_along(c, part, s, args.no_doubling), part, classes, scale)
                                          for s in range(args.seeds)]) for m, c in cells.items()}
    (k1, c1), (k2, c2) = KEY_CHANGE
    a, ca = held_triads(c1, 8)
    b, cb = held_triads(c2, 8)
    part, classes = np.concatenate([a, b]), np.concatenate([ca, cb])
    change = {}
    for m, c in cells.items():
        rows, follow = [], []
        for s in range(args.seeds):
            notes = play_along(c, part, s, args.no_doubling)
            rows.append(figures(notes[128:], part[128:], classes[128:], scale_mask(NAMES[k2], False)))
            follow.append(steps_to_follow(notes, 128, scale_mask(NAMES[k2], False)))
        change[m] = {**mean(rows), "16ths_to_follow_median": float(np.median([f if f is not None else 128 for f in follow])),
                     "16ths_to_follow": follow}
    result["cases"]["key change C -> E major (figures of the E major half)"] = change
    test = json.loads(JSB.read_text())["test"][: args.pieces]
    result["cases"]["soprano of the test chorales (S -> ATB)"] = chorale_cases(test, 0, cells, 2, args.no_doubling)
    result["cases"]["bass of the test chorales (B -> SAT)"] = chorale_cases(test, 3, cells, 2, args.no_doubling)
    result["seconds"] = round(time.time() - t0, 1)
    Path(args.out).write_text(json.dumps(result, indent=1))
    for case, rows in result["cases"].items():
        print(case)
        for m, f in rows.items():
            print(f"  {m:10s} " + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in f.items()
                                             if k != "16ths_to_follow"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
