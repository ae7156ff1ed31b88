"""Can a different sampling rule bring generated music nearer the data's pitch classes? `stats` per rule.

The shipped graph samples each note, walking up the pitch axis, with P(play) = sigmoid(logit / T).
This bench tries other rules on the same weights, with a batched torch copy of the walk (128 pieces
at once, ~25 s a seed set on one core instead of ~40 s through onnxruntime):
  plain      the shipped rule (the baseline, re-measured with this sampler's random numbers)
  min-p P    a note whose P(play) is below P never starts (truncation, as top-p/min-p in language models)
  bass T     the lowest note of each step (the first to play in the walk) at temperature T, the rest at 0.8
  ensemble   the model run on the past transposed by -2..+2 semitones (five time-axis states), each
             note drawn from the mean of the five views' P(play): a transposition ensemble
  best-of K  each bar drawn K times with the plain rule; the draw the model finds most likely (its
             log-likelihood at temperature 1) is kept and all K go on from it (a beam of one)
Before measuring, the torch walk is checked against the ONNX cell: fed the same uniform numbers, the
plain rule must choose exactly the notes the graph chooses (32 steps).
Same protocol as bench_temperature.py: 128 pieces of 16 bars from the C major seed, two seed sets,
`stats.compare` against the valid split (pitch-class distance against the train split); anti-silence is
not modelled (it never triggers at these temperatures: bench_temperature's silent shares).
Writes bench/results/sampling.json. Run: PYTHONPATH=. python bench/bench_sampling.py [--model M.onnx] [--rules plain,min-p 0.05]
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from live_biaxial import stats
from live_biaxial.generation import seed_step
from live_biaxial.model_file import Cell
from training.config import ModelConfig
from training.data import load_data
from training.from_onnx import load_exported
from training.model import BiaxialLSTM

JSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"
RULES = "plain,min-p 0.05,min-p 0.1,bass 0.5,ensemble,best-of 4"
TEMPERATURE = 0.8


def load_model(path) -> BiaxialLSTM:
    ck = load_exported(path)
    cfg = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in ck["model_config"].items()})
    model = BiaxialLSTM(cfg)
    model.load_state_dict(ck["model"])
    return model.eval()


def shifted(notes: torch.Tensor, s: int) -> torch.Tensor:
    """notes (B, 78, 2) moved up by s semitones (notes pushed off the window are dropped)."""
    out = torch.zeros_like(notes)
    if s >= 0:
        out[:, s:] = notes[:, : notes.shape[1] - s]
    else:
        out[:, :s] = notes[:, -s:]
    return out


def shifts_of(rule: str) -> tuple[int, ...]:
    """The transpositions the model hears the past at: five for the ensemble, else the past as it is."""
    return (-2, -1, 0, 1, 2) if rule.partition(" ")[0] == "ensemble" else (0,)


def one_step(model: BiaxialLSTM, notes, step, time_state, noise, rule: str):
    """One step of every piece: notes (B, 78, 2) and step (B,) are the previous step's, noise (B, 78, 2).

    Returns the new notes (B, 78, 2) and their log-likelihood under the model at temperature 1 (B,);
    time_state (per view, per layer (h, c)) is updated in place."""
    batch = notes.shape[0]
    name, _, arg = rule.partition(" ")
    shifts = shifts_of(rule)
    hidden = []  # per view: (B, 78, H) time-axis outputs
    for v, s in enumerate(shifts):
        x = model.features(shifted(notes, s), step).reshape(batch * 78, 1, -1)  # (B*78, 1, 80)
        for k, lstm in enumerate(model.time_layers):
            x, time_state[v][k] = lstm(x, time_state[v][k])
        hidden.append(x.reshape(batch, 78, -1))
    pitch_state = [[None] * len(model.pitch_layers) for _ in shifts]
    for v, s in enumerate(shifts):  # a view moved up walks its notes below the window first, over silence
        for j in range(max(s, 0)):
            y = torch.cat([hidden[v][:, j], torch.zeros(batch, 2)], -1)[:, None]
            for k, lstm in enumerate(model.pitch_layers):
                y, pitch_state[v][k] = lstm(y, pitch_state[v][k])
    below = torch.zeros(batch, 2)  # the chosen bits of the note below
    sounding = torch.zeros(batch, dtype=torch.bool)  # has a lower note of this step played yet?
    new = torch.zeros(batch, 78, 2)
    log_p = torch.zeros(batch)
    for n in range(78):
        p_play = p_artic = 0.0
        heard = 0  # views that see note n
        for v, s in enumerate(shifts):
            if not 0 <= n + s < 78:
                continue
            y = torch.cat([hidden[v][:, n + s], below], -1)[:, None]  # (B, 1, H + 2)
            for k, lstm in enumerate(model.pitch_layers):
                y, pitch_state[v][k] = lstm(y, pitch_state[v][k])
            logits = model.out(y[:, 0])  # (B, 2)
            temp = torch.full((batch,), TEMPERATURE)
            if name == "bass":
                temp = torch.where(sounding, temp, torch.full_like(temp, float(arg)))
            p_play = p_play + torch.sigmoid(logits[:, 0] / temp)
            p_artic = p_artic + torch.sigmoid(logits[:, 1] / temp)
            heard += 1
        p_play, p_artic = p_play / heard, p_artic / heard  # (B,)
        if name == "min-p":
            p_play = torch.where(p_play < float(arg), torch.zeros_like(p_play), p_play)
        play = (noise[:, n, 0] < p_play).float()
        below = torch.stack([play, (noise[:, n, 1] < p_artic).float() * play], -1)  # (B, 2)
        if shifts == (0,):  # the likelihood that best-of ranks by (the first view's logits)
            log_p -= F.binary_cross_entropy_with_logits(logits[:, 0], play, reduction="none")
            log_p -= play * F.binary_cross_entropy_with_logits(logits[:, 1], below[:, 1], reduction="none")
        sounding |= play > 0
        new[:, n] = below
    return new, log_p


@torch.no_grad()
def sample(model: BiaxialLSTM, noise: torch.Tensor, rule: str, seed_notes: np.ndarray) -> np.ndarray:
    """noise (T, B, 78, 2) uniform -> notes (T, B, 78, 2) uint8, the walk of StepCell with another rule.

    "best-of K": each bar is drawn K times (plain rule) and the draw the model finds most likely is kept."""
    n_steps, batch = noise.shape[:2]
    name, _, arg = rule.partition(" ")
    k = int(arg) if name == "best-of" else 1
    notes = torch.from_numpy(seed_notes).float()[None].repeat(batch * k, 1, 1)  # (B*K, 78, 2): K copies per piece
    step = torch.full((batch * k,), -1, dtype=torch.long)
    time_state = [[None] * len(model.time_layers) for _ in shifts_of(rule)]
    rule_of_step = "plain" if k > 1 else rule  # best-of draws each bar with the plain rule
    out = torch.zeros(noise.shape, dtype=torch.uint8)
    extra = torch.Generator().manual_seed(int(noise[0, 0, 0, 0] * 2**31))  # the other K-1 draws' noise
    for bar in range(0, n_steps, 16):
        log_p = torch.zeros(batch * k)
        drawn = []
        for t in range(bar, min(bar + 16, n_steps)):
            u = noise[t]  # (B, 78, 2): draw 0 of each piece uses the given noise
            if k > 1:
                u = torch.rand(batch, k, 78, 2, generator=extra)
                u[:, 0] = noise[t]
                u = u.reshape(batch * k, 78, 2)
            notes, lp = one_step(model, notes, step, time_state, u, rule_of_step)
            step = step + 1
            log_p += lp
            drawn.append(notes)
        best = log_p.reshape(batch, k).argmax(1) + torch.arange(batch) * k  # (B,) the kept draw of each piece
        out[bar : bar + len(drawn)] = torch.stack(drawn)[:, best].to(torch.uint8)
        if k > 1:  # every copy goes on from the kept draw
            keep = best.repeat_interleave(k)
            notes, step = notes[keep], step[keep]
            time_state = [[tuple(t.reshape(batch * k, 78, -1)[keep].reshape(1, batch * k * 78, -1) for t in hc)
                           for hc in layers] for layers in time_state]
    return out.numpy()


def check_against_onnx(model: BiaxialLSTM, cell: Cell, steps: int = 32) -> int:
    """Steps where the torch walk (plain rule) chose other notes than the ONNX graph, fed the same noise."""
    rng = np.random.default_rng(7)
    noise = rng.random((steps, 1, 78, 2), dtype=np.float32)
    ours = sample(model, torch.from_numpy(noise), "plain", seed_step())[:, 0]
    notes, state = seed_step(), np.zeros((78, cell.state_size), np.float32)
    differ = 0
    for t in range(steps):
        notes, _, state = cell(notes, np.int64(t - 1), state, noise[t, 0], np.float32(1), np.float32(TEMPERATURE),
                               np.zeros(78, np.float32))
        notes, state = notes.copy(), state.copy()
        differ += int(not np.array_equal(notes.astype(np.uint8), ours[t]))
    return differ


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--rules", default=RULES, help=f"comma-separated (default: {RULES})")
    p.add_argument("--pieces", type=int, default=128)
    p.add_argument("--bars", type=int, default=16)
    p.add_argument("--data", default=str(JSB))
    p.add_argument("--seed-sets", type=stats.seed_sets, default=stats.BENCH_SEED_SETS,
                   help="NAME=FIRST_SEED,...: sets of --pieces pieces each (default: %(default)s)")
    p.add_argument("--json", default="bench/results/sampling.json")
    args = p.parse_args()
    torch.set_num_threads(1)

    cell = Cell(args.model)
    model = load_model(cell.path)
    differ = check_against_onnx(model, cell)
    print(f"torch walk against the ONNX cell, same noise: {differ} of 32 steps differ")
    if differ:
        raise SystemExit("the torch walk is not the graph's: fix it before measuring rules with it")
    data = load_data([args.data], steps_per_beat=4, min_steps=1, log=lambda s: None)
    valid = [x.matrix for x in data.splits["valid"]]
    train = [x.matrix for x in data.splits["train"]]
    result = {"model": str(cell.path), "temperature": TEMPERATURE, "pieces": args.pieces, "bars": args.bars,
              "machine": platform.machine(), "onnx_check_steps_differ": differ, "runs": []}
    for name, first in args.seed_sets.items():
        for rule in args.rules.split(","):
            t0 = time.perf_counter()
            noise = torch.rand(args.bars * 16, args.pieces, 78, 2, generator=torch.Generator().manual_seed(first))
            out = sample(model, noise, rule, seed_step())
            gen = [out[:, b] for b in range(args.pieces)]
            run = {"seeds": name, "rule": rule, **stats.bench_run(gen, valid, train), "seconds": time.perf_counter() - t0}
            result["runs"].append(run)
            print(f"{name:7s} {rule:12s} {stats.bench_line(run)}", flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
