"""Accompaniment NLL: a listening model's voices given the player's, per split of the JSB test chorales at 16ths
(S -> ATB, B -> SAT, SB -> AT, none -> SATB), beside the same voices with the player's part silent, and the
solo model's NLL of all four voices. NLL per 16th step (play + articulate bits). Writes one JSON:
    python -m bench.bench_accompaniment [--model exported/default.onnx] [--solo exported/solo.onnx]
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
from live_biaxial_training.parts import EVAL_PARTS, part_name

ROOT = Path(__file__).resolve().parents[1]
JSB = ROOT.parent / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"


def load(path: str) -> BiaxialLSTM:
    blob = checkpoint.load(path)
    model = BiaxialLSTM(ModelConfig.from_dict(blob["model_config"]))
    model.load_state_dict(blob["model"])
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "exported" / "default.onnx"))
    ap.add_argument("--solo", default=str(ROOT / "exported" / "solo.onnx"))
    ap.add_argument("--split", default="test", choices=["valid", "test"])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "accompaniment_nll.json"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.time()
    pieces = load_data([str(JSB)], 4, min_steps=1, log=lambda line: None).splits[args.split]
    model, solo = load(args.model), load(args.solo)
    result = {"model": Path(args.model).name, "solo": Path(args.solo).name, "split": args.split,
              "pieces": len(pieces), "splits": {}}
    for name, player in EVAL_PARTS.items():
        given = evaluate(model, pieces, player=player)
        silent = evaluate(model, pieces, player=player, heard=False)
        result["splits"][part_name(player)] = {"nll_given_player": given["nll"], "nll_player_silent": silent["nll"],
                                                "steps": given["steps"]}
    result["solo_nll_all_voices"] = evaluate(solo, pieces)["nll"]
    result["seconds"] = round(time.time() - t0, 1)
    Path(args.out).write_text(json.dumps(result, indent=1))
    for split, row in result["splits"].items():
        print(f"{split:14s} given the player {row['nll_given_player']:.3f}   player silent {row['nll_player_silent']:.3f}")
    print(f"solo model, all four voices {result['solo_nll_all_voices']:.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
