"""Validation and test metrics: NLL per time step and frame-level accuracy."""

from __future__ import annotations

import numpy as np
import torch

from .data import Piece
from .model import nll_terms


@torch.no_grad()
def evaluate(model, pieces: list[Piece], device="cpu", max_pieces: int | None = None) -> dict:
    """Score every step of each piece (a silent step is prepended, so step 0 is predicted too).

    Returns nll_play and nll (play + articulate) per time step, and frame-level accuracy
    TP / (TP + FP + FN) of the play bits with P(play) > 0.5.
    """
    was_training = model.training
    model.eval()
    play_sum = artic_sum = 0.0
    tp = fp = fn = 0.0
    steps = 0
    for piece in pieces[:max_pieces]:
        m = torch.from_numpy(piece.matrix.astype(np.float32)).to(device)  # (T, 78, 2)
        states = torch.cat([torch.zeros_like(m[:1]), m])[None]  # (1, T+1, 78, 2)
        idx = torch.arange(-1, m.shape[0], device=device)[None]  # (1, T+1)
        logits = model(states, idx)  # (1, T, 78, 2)
        play, artic = nll_terms(logits, states[:, 1:])
        play_sum += float(play)
        artic_sum += float(artic)
        pred = logits[..., 0] > 0
        true = states[:, 1:, :, 0] > 0.5
        tp += float((pred & true).sum())
        fp += float((pred & ~true).sum())
        fn += float((~pred & true).sum())
        steps += m.shape[0]
    model.train(was_training)
    return {
        "nll_play": play_sum / max(steps, 1),
        "nll": (play_sum + artic_sum) / max(steps, 1),
        "accuracy": tp / max(tp + fp + fn, 1.0),
        "steps": steps,
        "pieces": len(pieces[:max_pieces]),
    }
