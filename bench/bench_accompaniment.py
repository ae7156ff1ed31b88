"""Accompaniment NLL: a listening model's voices given the player's, per split of the JSB test chorales at 16ths
(S -> ATB, B -> SAT, SB -> AT, none -> SATB), beside the same voices with the player's part silent, and the
solo model's NLL of all four voices. NLL per 16th step (play + articulate bits). A model that knows chords is
scored without a chord and with each beat's chord given (over all four voices, as a chart of the piece would
say), with its plan's accuracy and the teacher-forced share of its expected struck notes that are chord tones;
--baseline scores an earlier model beside it. Writes one JSON:
    python -m bench.bench_accompaniment [--model exported/default.onnx] [--solo exported/solo.onnx] [--baseline M]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from live_biaxial_training import checkpoint
from live_biaxial_training.config import ModelConfig
from live_biaxial_training.data import load_data
from live_biaxial_training.evaluate import evaluate
from live_biaxial_training.model import BiaxialLSTM
from live_biaxial.music.representation import PITCH_CLASS
from live_biaxial_training.parts import EVAL_PARTS, harmony_segment, part_name, voices_matrix

from bench.provenance import ROOT, provenance

JSB = ROOT.parent / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"


def load(path: str) -> BiaxialLSTM:
    blob = checkpoint.load(path)
    model = BiaxialLSTM(ModelConfig.from_dict(blob["model_config"]))
    model.load_state_dict(blob["model"])
    return model.eval()


def data_chord_tones(pieces, player) -> float:
    """Of the notes Bach's other voices strike, the share that are tones of their beat's chord (the data's figure
    beside the model's chord_tones_given_chord)."""

    tones = strikes = 0.0
    for piece in pieces:
        own = [v for v in range(piece.voices.shape[1]) if v not in player]
        struck = voices_matrix(piece.voices, own)[..., 1]  # (T, 78)
        chord = harmony_segment(piece, 0, len(struck))[0][:, 0]  # (T, 12) pitch classes of each step's chord
        in_chord = chord[:, PITCH_CLASS]  # (T, 78)
        known = chord.any(axis=1)[:, None]
        tones += float((struck * in_chord * known).sum())
        strikes += float((struck * known).sum())
    return tones / max(strikes, 1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "exported" / "default.onnx"))
    ap.add_argument("--solo", default=str(ROOT / "exported" / "solo.onnx"))
    ap.add_argument("--baseline", help="an earlier listening model to score beside it (e.g. the previous default)")
    ap.add_argument("--split", default="test", choices=["valid", "test"])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "accompaniment_nll.json"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.time()
    pieces = load_data([str(JSB)], 4, min_steps=1, log=lambda line: None).splits[args.split]
    model, solo = load(args.model), load(args.solo)
    baseline = load(args.baseline) if args.baseline else None
    result = {**provenance(), "model": Path(args.model).name, "solo": Path(args.solo).name,
              "baseline": args.baseline and Path(args.baseline).name, "split": args.split, "pieces": len(pieces),
              "splits": {}}
    for name, player in EVAL_PARTS.items():
        given = evaluate(model, pieces, player=player, chord_given=False)
        silent = evaluate(model, pieces, player=player, heard=False, chord_given=False)
        row = {"nll_given_player": given["nll"], "nll_player_silent": silent["nll"], "steps": given["steps"]}
        if model.config.chords:
            chord = evaluate(model, pieces, player=player)
            row.update(nll_given_player_and_chord=chord["nll"], plan_accuracy=chord["plan_accuracy"],
                       chord_tones_given_chord=chord["chord_tones"], data_chord_tones=data_chord_tones(pieces, player))
        if baseline is not None:
            row["baseline_nll_given_player"] = evaluate(baseline, pieces, player=player)["nll"]
        result["splits"][part_name(player)] = row
    result["solo_nll_all_voices"] = evaluate(solo, pieces)["nll"]
    result["seconds"] = round(time.time() - t0, 1)
    Path(args.out).write_text(json.dumps(result, indent=1))
    for split, row in result["splits"].items():
        print(f"{split:14s} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items() if k != "steps"))
    print(f"solo model, all four voices {result['solo_nll_all_voices']:.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
