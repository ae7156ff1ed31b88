"""Experiment (session 11): does a mode bit keep the model in minor when told? (docs/default-model.md)

Feature 79 (always 0 in the original's 80 inputs) carries MODE_SCALE for a piece in a minor key (its whole-piece
Krumhansl-Kessler key), 0 for a major one. Fine-tuned from the shipped model with that column's input weights
zeroed first, so it starts as exactly the shipped model; 7 x 192 segments, +-6, Adam lr 3e-4. At generation
each set of 128 pieces of 16 bars at 0.8 (the bench_sampling.py walk) has 45% of its pieces told "minor" and
started from a C minor chord, the rest "major" from the C major chord; `stats.bench_run` against the data.
A one-off experiment, not product code: the exported graph has no mode input.
  PYTHONPATH=. python bench/exp_mode_bit.py train OUT BATCHES [THREADS]
  PYTHONPATH=. python bench/exp_mode_bit.py eval SNAP.pt|shipped SETS MINOR_SHARE [OUT.json]
"""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from bench_sampling import JSB, load_model, sample
from live_biaxial import stats
from live_biaxial.generation import seed_step
from training.data import load_data, transposed
from training.evaluate import evaluate
from training.model import loss_per_step


# The bit's value for minor: a larger input moves its zero-started weights SCALE times faster under Adam
# (at 1 the bit was still unused after 300 batches).
SCALE = float(os.environ.get("MODE_SCALE", "10"))
SET_SEED = 100000  # set k of the eval draws its pieces' noise from seed SET_SEED * (k + 1)


class ModeFeatures(torch.nn.Module):
    """NoteFeatures with its last (always-zero) column set to the mode bit of each piece (0 major, SCALE minor)."""
    def __init__(self, base):
        super().__init__()
        self.base, self.mode = base, None  # mode: (B,) float, 0 or 1

    def forward(self, state, step):
        x = self.base(state, step)  # (B, [T,] 78, 80)
        m = SCALE * self.mode.view(-1, *([1] * (x.dim() - 1))).to(x.dtype)  # (B, 1.., 1)
        return torch.cat([x[..., :-1], m.expand(*x.shape[:-1], 1)], -1)


def mode_model(path=ROOT / "exported" / "default.onnx", zero_column=True):
    model = load_model(path)
    if zero_column:
        with torch.no_grad():
            model.time_layers[0].weight_ih_l0[:, 79] = 0
    model.features = ModeFeatures(model.features)
    return model


def modes_of(pieces):
    """(N,) 1.0 for each piece whose whole-piece key is minor, else 0.0."""
    return np.array([float(k[1]) if k else 0.0 for k in stats.piece_keys([p.matrix for p in pieces])], np.float32)


def valid_nll(model, pieces, modes):
    """NLL per step of whole pieces, each scored by training.evaluate with its own mode bit set."""
    total = steps = 0.0
    for piece, mode in zip(pieces, modes):
        model.features.mode = torch.tensor([mode])
        m = evaluate(model, [piece])
        total += m["nll"] * m["steps"]
        steps += m["steps"]
    return total / steps


def train(out, batches, seg=192, bs=7, transpose=6, lr=3e-4, seed=11):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data([str(JSB)], steps_per_beat=4, min_steps=seg + 1, log=print)
    tr, va = data.splits["train"], data.splits["valid"]
    mtr, mva = modes_of(tr), modes_of(va)
    print(f"train {len(tr)} pieces, {mtr.mean():.2f} minor; valid {len(va)}, {mva.mean():.2f} minor", flush=True)
    model = mode_model()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    log = open(out / "metrics.jsonl", "a")
    t0 = time.time()
    for step in range(1, batches + 1):
        rng = np.random.default_rng([seed, step])
        torch.manual_seed(seed * 1_000_003 + step)  # dropout masks
        states = np.zeros((bs, seg, 78, 2), np.float32)
        steps = np.zeros((bs, seg), np.int64)
        modes = np.zeros(bs, np.float32)
        for b in range(bs):  # as training.data.sample_batch, keeping each segment's piece for its mode
            i = rng.integers(len(tr))
            m = tr[i].matrix
            start = int(rng.integers((m.shape[0] - seg) // 16 + 1)) * 16
            states[b] = transposed(m[start:start + seg], int(rng.integers(-transpose, transpose + 1)))
            steps[b] = start + np.arange(seg)
            modes[b] = mtr[i]
        model.features.mode = torch.from_numpy(modes)
        s = torch.from_numpy(states)  # (B, T, 78, 2)
        loss = loss_per_step(model(s, torch.from_numpy(steps)), s[:, 1:])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        row = {"step": step, "loss": loss.item(), "s": round(time.time() - t0, 1)}
        if step % 100 == 0:
            row["valid_nll"] = valid_nll(model, va, mva)
            torch.save(model.state_dict(), out / f"snap_{step}.pt")
            print(row, flush=True)
        log.write(json.dumps(row) + "\n")
        log.flush()


def generate_set(model, first, pieces, minor_share, bars, mode_bit):
    """pieces from a C major chord (mode 0) and round(minor_share * pieces) from a C minor chord (mode 1)."""
    n_minor = round(minor_share * pieces)
    out = []
    for n, minor in ((pieces - n_minor, False), (n_minor, True)):
        if not n:
            continue
        noise = torch.rand(bars * 16, n, 78, 2, generator=torch.Generator().manual_seed(first + 7919 * minor))
        if mode_bit:
            model.features.mode = torch.full((n,), float(minor))
        notes = sample(model, noise, "plain", seed_step(0, minor))  # (T, n, 78, 2)
        out += [notes[:, b] for b in range(n)]
    return out


def evaluate_sets(which, sets, minor_share, bars=16, pieces=128):
    torch.set_num_threads(1)
    data = load_data([str(JSB)], steps_per_beat=4, min_steps=1, log=lambda s: None)
    valid = [x.matrix for x in data.splits["valid"]]
    train_pieces = [x.matrix for x in data.splits["train"]]
    if which == "shipped":
        model, bit = load_model(ROOT / "exported" / "default.onnx"), False
    else:
        model, bit = mode_model(zero_column=False), True
        model.load_state_dict(torch.load(which))
        model.eval()
    res = []
    for k in range(sets):
        gen = generate_set(model, SET_SEED * (k + 1), pieces, minor_share, bars, bit)
        run = stats.bench_run(gen, valid, train_pieces)
        d = run["rows"]["pitch_class_distance"]["generated"]
        res.append({"set": k, "distance": d, "minor_share": run["minor_share"], "all_ok": run["all_ok"],
                    "notes_per_step": run["rows"]["notes_per_step"]["generated"],
                    "repeated": run["rows"]["repeated_bar_share"]["generated"], "clarity": run["key_clarity"]})
        print(which, k, f"distance {d:.4f} minor {run['minor_share']:.2f}", stats.bench_line(run)[:90], flush=True)
    ds = [r["distance"] for r in res]
    sd = np.std(ds, ddof=1) if len(ds) > 1 else 0.0
    print(which, f"MEAN {np.mean(ds):.4f} sd {sd:.4f} minor {np.mean([r['minor_share'] for r in res]):.3f}")
    return res


if __name__ == "__main__":
    if sys.argv[1] == "train":
        torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
        train(sys.argv[2], int(sys.argv[3]))
    else:
        r = evaluate_sets(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        Path(sys.argv[5] if len(sys.argv) > 5 else "bench/results/mode_bit.json").write_text(json.dumps(r, indent=1))
