"""Validation and test metrics: NLL per time step and frame-level accuracy."""

from __future__ import annotations

import numpy as np
import torch

from .data import Piece
from .features import N_NOTES
from .model import nll_terms
from .parts import EVAL_PARTS, harmony_segment, positions, voices_matrix


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


def _piece_harmony(piece: Piece, device, given: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The chord inputs (1, T+1, 3, 12) (a silent step first; zeros where not ``given``) and the plan
    head's targets (1, T) of one piece."""
    chord, plan = harmony_segment(piece, 0, piece.matrix.shape[0])
    chord = np.concatenate([np.zeros_like(chord[:1]), chord]) * float(given)
    return torch.from_numpy(chord)[None].to(device), torch.from_numpy(plan)[None].to(device)


def _chord_tone_mass(logits: torch.Tensor, chord: torch.Tensor) -> tuple[float, float]:
    """Expected strikes (P(play) x P(articulate)) on tones of the chord given, and on any note, over the
    steps a chord is given: logits (1, T, 78, 2), chord (1, T, 3, 12)."""
    p = torch.sigmoid(logits.float())
    strike = p[..., 0] * p[..., 1]  # (1, T, 78)
    tones = chord[..., 0, :][..., torch.arange(N_NOTES, device=chord.device) % 12]  # (1, T, 78) note n a chord tone
    known = chord[..., 0, :].sum(dim=-1, keepdim=True) > 0  # (1, T, 1)
    return float((strike * tones * known).sum()), float((strike * known).sum())


@torch.no_grad()
def evaluate(model, pieces: list[Piece], device="cpu", max_pieces: int | None = None, player=None,
             heard: bool = True, chord_given: bool = True) -> dict:
    """Score every step of each piece (a silent step is prepended, so step 0 is predicted too).

    Returns nll_play and nll (play + articulate) per time step, and frame-level accuracy
    TP / (TP + FP + FN) of the play bits with P(play) > 0.5. A model that listens is scored on the
    voices that are not the player's: ``player`` (voice indices) for every piece, or by default each
    piece in turn with the splits of parts.EVAL_PARTS (none, soprano, bass, soprano and bass); ``heard``
    False scores the same voices with the player's part silent.
    A model that knows chords is given each beat's chord (all voices together) unless ``chord_given`` is
    False, and scored also on plan_accuracy (the plan head's most likely chord is the next beat's) and
    chord_tones (of its expected struck notes, the share that are tones of the chord given).
    """
    was_training = model.training
    model.eval()
    play_sum = artic_sum = 0.0
    tp = fp = fn = 0.0
    steps = 0
    plan_hits = plan_count = 0.0
    tone_mass = strike_mass = 0.0
    splits = list(EVAL_PARTS.values())
    for i, piece in enumerate(pieces[:max_pieces]):
        who = splits[i % len(splits)] if player is None else tuple(player)
        states, idx, human, meter = _piece_tensors(model, piece, who, device, heard)
        if model.config.chords:
            chord, plan_target = _piece_harmony(piece, device, chord_given)
            logits, plan = model(states, idx, None, human, meter, chord, with_plan=True)  # (1, T, 78, 2), (1, T, 156)
            scored = plan_target >= 0
            plan_hits += float((plan.argmax(dim=-1) == plan_target)[scored].sum())
            plan_count += float(scored.sum())
            if chord_given:
                tones, strikes = _chord_tone_mass(logits, chord[:, 1:])
                tone_mass, strike_mass = tone_mass + tones, strike_mass + strikes
        else:
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
    harmony = {}
    if model.config.chords:
        harmony["plan_accuracy"] = plan_hits / max(plan_count, 1.0)
        if chord_given:
            harmony["chord_tones"] = tone_mass / max(strike_mass, 1e-9)
    return harmony | {
        "nll_play": play_sum / max(steps, 1),
        "nll": (play_sum + artic_sum) / max(steps, 1),
        "accuracy": tp / max(tp + fp + fn, 1.0),
        "steps": steps,
        "pieces": len(pieces[:max_pieces]),
    }
