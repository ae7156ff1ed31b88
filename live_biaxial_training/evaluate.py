"""Validation and test metrics: NLL per time step and frame-level accuracy."""

from __future__ import annotations

import numpy as np
import torch

from .data import Piece
from .model import nll_terms
from .parts import EVAL_PARTS, positions, voices_matrix


def _piece_tensors(model, piece: Piece, player, device, heard: bool = True) -> tuple:
    """One piece as the model is fed it, a silent step first: (states, steps, human, meter) with T+1 steps.
    ``player``: the voices that are the player's (a model that listens; none for a solo one); ``heard``
    False: the model plays the same voices without hearing the player's."""
    T = piece.matrix.shape[0]
    if model.config.listens and piece.voices is not None:
        own = [v for v in range(piece.voices.shape[1]) if v not in player]
        m = voices_matrix(piece.voices, own)  # (T, 78, 2)
        part = voices_matrix(piece.voices, player if heard else ())
    else:
        m = piece.matrix.astype(np.float32)
        part = np.zeros_like(m)
    silent = np.zeros_like(m[:1])
    states = torch.from_numpy(np.concatenate([silent, m]))[None].to(device)  # (1, T+1, 78, 2)
    if not model.config.listens:
        return states, torch.arange(-1, T, device=device)[None], None, None
    human = torch.from_numpy(np.concatenate([silent, part]))[None].to(device)  # (1, T+1, 78, 2)
    pos, meter = positions(piece, -1, T + 1)
    return states, torch.from_numpy(pos)[None].to(device), human, torch.from_numpy(meter)[None].to(device)


@torch.no_grad()
def evaluate(model, pieces: list[Piece], device="cpu", max_pieces: int | None = None, player=None,
             heard: bool = True) -> dict:
    """Score every step of each piece (a silent step is prepended, so step 0 is predicted too).

    Returns nll_play and nll (play + articulate) per time step, and frame-level accuracy
    TP / (TP + FP + FN) of the play bits with P(play) > 0.5. A model that listens is scored on the
    voices that are not the player's: ``player`` (voice indices) for every piece, or by default each
    piece in turn with the splits of parts.EVAL_PARTS (none, soprano, bass, soprano and bass); ``heard``
    False scores the same voices with the player's part silent.
    """
    was_training = model.training
    model.eval()
    play_sum = artic_sum = 0.0
    tp = fp = fn = 0.0
    steps = 0
    splits = list(EVAL_PARTS.values())
    for i, piece in enumerate(pieces[:max_pieces]):
        who = splits[i % len(splits)] if player is None else tuple(player)
        states, idx, human, meter = _piece_tensors(model, piece, who, device, heard)
        logits = model(states, idx, None, human, meter)  # (1, T, 78, 2)
        play, artic = nll_terms(logits, states[:, 1:])
        play_sum += float(play)
        artic_sum += float(artic)
        pred = logits[..., 0] > 0
        true = states[:, 1:, :, 0] > 0.5
        tp += float((pred & true).sum())
        fp += float((pred & ~true).sum())
        fn += float((~pred & true).sum())
        steps += states.shape[1] - 1
    model.train(was_training)
    return {
        "nll_play": play_sum / max(steps, 1),
        "nll": (play_sum + artic_sum) / max(steps, 1),
        "accuracy": tp / max(tp + fp + fn, 1.0),
        "steps": steps,
        "pieces": len(pieces[:max_pieces]),
    }
