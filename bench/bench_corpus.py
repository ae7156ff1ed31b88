"""Held-out pieces per meter: models that know chords on the JSB test chorales, on the music21 corpus' test
chorales read with their own time signatures (4/4, 3/4), which training on `music21:bach` never sees (a corpus
chorale whose tune the JSB split holds out is held out with it: training/data.py), and on the corpus' string
quartet movements of the test split (Haydn, Mozart, Beethoven; first violin to cello as S, A, T, B). Per model and group, averaged
over the player's parts of the accompaniment bench (none, S, B, SB): NLL per 16th with each beat's chord given
and without a chord, the plan's accuracy, the teacher-forced share of expected struck notes on tones of the
chord given, beside the data's own share. Writes one JSON:
    python -m bench.bench_corpus --model exported/default.onnx --model runs/corpus/best.pt
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from live_biaxial_training.data import load_data
from live_biaxial_training.evaluate import evaluate
from live_biaxial_training.parts import EVAL_PARTS

from bench.bench_accompaniment import JSB, data_chord_tones, load
from bench.provenance import ROOT, provenance

METER_NAMES = {(16, 4): "4/4", (12, 4): "3/4", (8, 4): "2/4", (12, 6): "6/8", (16, 8): "2/2", (24, 8): "3/2"}


def meter_of(piece) -> str:
    """The meter most of the piece's steps are in (a piece without one: 4/4, as training counts it)."""
    if piece.meter is None:
        return "4/4"
    rows, counts = np.unique(piece.meter, axis=0, return_counts=True)
    bar, beat = (int(x) for x in rows[counts.argmax()])
    return METER_NAMES.get((bar, beat), f"{bar}/{beat} 16ths")


QUARTETS = ("music21:haydn", "music21:mozart", "music21:beethoven")


def groups(split: str) -> dict[str, list]:
    """The JSB split as the data gives it; the corpus' chorales of that split by meter; the string quartets'."""
    pieces = load_data([str(JSB), "music21:bach", *QUARTETS], 4, min_steps=1, log=lambda line: None).splits[split]
    out = {f"JSB {split} (as 4/4)": [p for p in pieces if p.name.startswith(JSB.stem)]}
    for piece in (p for p in pieces if not p.name.startswith(JSB.stem) and p.voices is not None):
        if piece.name.startswith("bach/"):
            out.setdefault(f"corpus chorales {split}, {meter_of(piece)}", []).append(piece)
        else:
            out.setdefault(f"string quartets {split}, all meters", []).append(piece)
    return out


def scores(model, pieces) -> dict:
    rows = []
    for player in EVAL_PARTS.values():
        given = evaluate(model, pieces, player=player)
        none = evaluate(model, pieces, player=player, chord_given=False)
        rows.append({"nll_chord_given": given["nll"], "nll_no_chord": none["nll"],
                     "plan_accuracy": given["plan_accuracy"], "chord_tones": given["chord_tones"]})
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, help="an exported .onnx model or a checkpoint; repeat")
    ap.add_argument("--split", default="test", choices=["valid", "test"])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "corpus.json"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.time()
    result = {**provenance(), "split": args.split, "models": args.model, "groups": {}}
    models = {path: load(path) for path in args.model}
    for name, pieces in groups(args.split).items():
        row = {"pieces": len(pieces), "steps": int(sum(p.matrix.shape[0] for p in pieces)),
               "data_chord_tones": float(np.mean([data_chord_tones(pieces, p) for p in EVAL_PARTS.values()]))}
        for path, model in models.items():
            row[Path(path).name if path.endswith(".onnx") else path] = scores(model, pieces)
        row["meters"] = sorted({meter_of(p) for p in pieces})
        result["groups"][name] = row
        print(f"{name}: {row['pieces']} pieces, data's chord tones {row['data_chord_tones']:.3f}")
        for key, s in row.items():
            if isinstance(s, dict):
                print(f"  {key:34s} " + "  ".join(f"{k} {v:.3f}" for k, v in s.items()), flush=True)
    result["seconds"] = round(time.time() - t0, 1)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
