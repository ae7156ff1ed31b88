"""The original's ``gen_adaptive`` loop, for any single-step cell (onnxruntime or torch).

A cell is a callable ``cell(notes, step, state, noise, conservativity, temperature, play_bias[, human, meter])``
returning ``(new_notes (78, 2), probs (78, 2), new_state)``, all numpy arrays; ``step`` is the previous
step's position in its bar. A cell whose ``listens`` is true takes the player's part (78, 2) and the
meter (2,) [16ths per bar, 16ths per beat] as well; a solo one hears the player merged into its notes.
"""

from __future__ import annotations

import numpy as np

from .harmony import harmony_bias
from ..music.representation import LOW_NOTE, N_NOTES

SEED_CHORD = (48, 55, 64, 72)  # C3 G3 E4 C5: the step every walk starts from (live, generate, stats, export)


def key_shift(root: int) -> int:
    """Semitones from C to a key's root, -5..+6, so that voicings round C stay mid-range."""
    return (root + 5) % 12 - 5


def seed_step(root: int = 0, minor: bool = False) -> np.ndarray:
    """The seed step (78, 2): a tonic chord held and struck, by default C major (SEED_CHORD).

    Other keys move the same voicing by ``key_shift(root)``; minor lowers the third."""
    pitches = [p + key_shift(root) for p in SEED_CHORD]
    pitches[2] -= int(minor)
    s = np.zeros((N_NOTES, 2), np.float32)
    s[[p - LOW_NOTE for p in pitches]] = 1
    return s


# I - IV - V - I in C major, voiced in four parts round the seed chord (MIDI pitches)
CADENCE = ((48, 55, 64, 72), (53, 57, 65, 72), (55, 59, 62, 71), (48, 55, 64, 72))


def key_prime(root: int = 0, minor: bool = False, steps_per_chord: int = 4) -> np.ndarray:
    """A cadence that tells the model the key -> (4 * steps_per_chord, 78, 2): I IV V I, each chord struck
    once and held, moved like ``seed_step``; minor lowers the third and sixth (V keeps its leading tone)."""
    out = np.zeros((4 * steps_per_chord, N_NOTES, 2), np.float32)
    for i, chord in enumerate(CADENCE):
        for p in chord:
            k = p + key_shift(root) - int(minor and p % 12 in (4, 9)) - LOW_NOTE
            out[i * steps_per_chord : (i + 1) * steps_per_chord, k, 0] = 1
            out[i * steps_per_chord, k, 1] = 1
    return out


class AntiSilence:
    """The conservativity rule of the original, scaled by a strength from 0 (off) to 1 (original).

    After each step: if fewer than 2 notes play, c drops to at most 1 and then by 0.02 * strength
    (which raises every play probability, P ** c); otherwise c relaxes toward 1 by 30%. The original lets c
    fall below 0 after 50 quiet steps, where every note plays; the step graph draws with u ** (1 / c), which
    needs c > 0, so c stops at MIN_C (a note of P 0.01 then plays with P 0.63).
    """

    MIN_C = 0.1

    def __init__(self, strength: float = 1.0):
        self.strength = float(strength)
        self.c = 1.0

    def update(self, n_playing: int) -> float:
        if n_playing < 2:
            self.c = max(min(self.c, 1.0) - 0.02 * self.strength, self.MIN_C)
        else:
            self.c += (1.0 - self.c) * 0.3
        return self.c


def hear(cell, prime: np.ndarray, state: np.ndarray, rule: AntiSilence, temperature, play_bias) -> tuple:
    """Let the model hear prime (P, 78, 2) step by step, each real step fed in place of what it would have
    played -> (the last step (78, 2), the state to play step P from (78, state_size), a copy). The prime is
    music given, not the model's silence: the anti-silence rule is left as it was (a one-voice prime once
    drove it below zero, and the model then played nothing at all)."""
    quiet = np.full((N_NOTES, 2), 0.5, np.float32)  # noise for steps whose notes are dropped
    for t in range(len(prime) - 1):
        _, _, state = cell(np.asarray(prime[t], np.float32), np.int64(t), state, quiet, np.float32(rule.c),
                           np.float32(temperature), play_bias)
    return np.array(prime[-1], np.float32), np.array(state, np.float32)


def leave_to_player(play_bias: np.ndarray, part: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The play bias (78,) with every pitch the player sounds (part (78, 2): held, struck) closed to the
    model, written into out (78,): an accompanist adds voices around the player's, it does not play the
    player's own notes back (octaves and other voices stay open)."""
    np.copyto(out, play_bias)
    np.putmask(out, part[:, 0] > 0, np.float32(-np.inf))
    return out


def generate(
    cell,
    state_size: int,
    n_steps: int,
    seed_notes: np.ndarray | None = None,
    seed: int = 0,
    anti_silence: float = 1.0,
    temperature: float = 1.0,
    play_bias: np.ndarray | None = None,
    prime: np.ndarray | None = None,
    human: np.ndarray | None = None,
    meter: tuple[int, int] = (16, 4),
    leave_players_notes: bool = False,
    harmony=None,
    harmony_strength: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Walk n_steps from a seed step -> (notes (n_steps, 78, 2) uint8, probs (n_steps, 78, 2)).

    prime (P, 78, 2): music to go on from instead of the seed step. The model hears it step by step
    (each real step fed in place of what it would have played), then plays the P+1-th step on.
    human (n_steps, 78, 2): the player's part, heard at each step as it is played (a model that listens
    hears it apart; a solo model merged into the notes it played before). meter: [16ths per bar, per beat].
    leave_players_notes: a model that listens never plays a pitch the player sounds (leave_to_player).
    harmony (harmony.HarmonyFollower): the chord of each step (a chart, the part's held chords, the plan), fed
    to a model that knows chords; harmony_strength 0..1: the harmony control (harmony.harmony_bias)."""
    rng = np.random.default_rng(seed)
    notes = np.zeros((N_NOTES, 2), np.float32) if seed_notes is None else np.asarray(seed_notes, np.float32)
    state = np.zeros((N_NOTES, state_size), np.float32)
    bias = np.zeros(N_NOTES, np.float32) if play_bias is None else np.asarray(play_bias, np.float32)
    rule = AntiSilence(anti_silence)
    out = np.zeros((n_steps, N_NOTES, 2), np.uint8)
    probs = np.zeros((n_steps, N_NOTES, 2), np.float32)
    temp = np.float32(temperature)
    step = -1  # the seed is the step before the first generated one
    if prime is not None and len(prime):
        notes, state = hear(cell, prime, state, rule, temp, bias)
        step = len(prime) - 1
    listens = bool(getattr(cell, "listens", False))
    bar = np.array(meter, np.int64)
    part = np.zeros((n_steps, N_NOTES, 2), np.float32) if human is None else np.asarray(human, np.float32)
    open_bias = np.zeros(N_NOTES, np.float32)
    harmony_out = np.zeros(N_NOTES, np.float32)
    knows_chords = bool(getattr(cell, "chords", False))
    for t in range(n_steps):
        noise = rng.random((N_NOTES, 2), dtype=np.float32)
        step_bias = bias
        bar_index, position = divmod(step + 1, int(bar[0]))  # the step being played
        chord = ()
        if harmony is not None:
            held = np.flatnonzero(part[t][:, 0]) + LOW_NOTE if human is not None else None
            chord_in = harmony.choose(bar_index, position, int(bar[0]), None, held)
            if harmony_strength > 0:
                on_beat = position % int(bar[1]) == 0
                step_bias = harmony_bias(step_bias, chord_in, notes, harmony_strength, on_beat, harmony_out,
                                         part[t][:, 0] > 0)
            chord = (chord_in,) if knows_chords else ()
        if listens:
            heard = (part[t], bar)
            if leave_players_notes and human is not None:
                step_bias = leave_to_player(step_bias, part[t], open_bias)
        else:
            heard = ()
            if human is not None:  # the solo model's way of hearing: the player's notes as if its own
                notes = np.maximum(notes, part[t])
        notes, p, state = cell(notes, np.int64(step % bar[0]), state, noise, np.float32(rule.c), temp, step_bias,
                               *heard, *chord)
        if harmony is not None and knows_chords:
            harmony.after_step(cell.plan, position, int(bar[1]))
        out[t], probs[t] = notes, p
        rule.update(int(notes[:, 0].sum()))
        step += 1
    return out, probs
