"""The player's part and the model's: training segments split by voice, the way a listening model is played.

A piece whose voices are apart (the separated chorales: soprano, alto, tenor, bass) gives, per segment,
the player a few of its voices and the model the others. Which ones is drawn per segment
(``PLAYER_PARTS``): none (the model plays solo), the soprano (it harmonises a melody), the bass (it plays
over a bass line), both, three (chords: it adds the one voice left), or any other one or two voices. A piece without voices is played solo.

What the model hears of the player when it plays step t: the player's part at step t itself (held and
struck), as well as its own notes of step t-1. Live, the engine computes step t just before its tick
(engine.py), so a chord the player holds, or strikes ahead of the tick, is heard; a note struck on or
after the tick is heard a 16th later, as a held note.
"""

from __future__ import annotations

import numpy as np

from live_biaxial.music.chords import QUALITIES, chord_inputs, step_labels
from live_biaxial.music.representation import ARTIC, LOW_NOTE, N_NOTES, PLAY

from .data import transposed

VOICE_NAMES = "SATB"  # the separated chorales' order
# the player's voices per segment and how often each is drawn
PLAYER_PARTS: dict[tuple[int, ...], float] = {
    (): 0.15, (0,): 0.20, (3,): 0.12, (0, 3): 0.13,
    (1,): 0.04, (2,): 0.04,
    (0, 1): 0.024, (0, 2): 0.024, (1, 2): 0.024, (1, 3): 0.024, (2, 3): 0.024,
    (0, 1, 2): 0.05, (1, 2, 3): 0.05, (0, 1, 3): 0.05, (0, 2, 3): 0.05,
}
# the splits the validation figure averages, and the accompaniment bench reports (player -> model)
EVAL_PARTS: dict[str, tuple[int, ...]] = {"none": (), "S": (0,), "B": (3,), "SB": (0, 3)}


def part_name(player: tuple[int, ...]) -> str:
    """(0, 3) -> 'SB -> AT'; () -> 'none -> SATB'."""
    own = "".join(VOICE_NAMES[v] for v in range(len(VOICE_NAMES)) if v not in player)
    return f"{''.join(VOICE_NAMES[v] for v in player) or 'none'} -> {own}"


def voices_matrix(voices: np.ndarray, which, shift: int = 0) -> np.ndarray:
    """voices (T, V) int MIDI pitches (-1 silent), the voices to take -> (T, 78, 2) float32 (play, articulate).

    A voice articulates where its pitch changes or it enters after a rest (the chorales do not tell a held
    note from a repeated one); two voices on one pitch are one note, struck if either strikes it.
    ``shift`` moves every pitch by that many semitones; notes that leave the window are dropped."""
    T = voices.shape[0]
    m = np.zeros((T, N_NOTES, 2), np.float32)
    t = np.arange(T)
    for v in which:
        p = voices[:, v].astype(np.int64)
        before = np.concatenate([[-1], p[:-1]])
        sounding = p >= 0
        n = p + shift - LOW_NOTE
        ok = sounding & (n >= 0) & (n < N_NOTES)
        m[t[ok], n[ok], PLAY] = 1
        strike = ok & (p != before)
        m[t[strike], n[strike], ARTIC] = 1
    return m


def positions(piece, start: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps,) positions in the bar and (steps, 2) meters of piece steps start .. start+steps-1 (a start of
    -1: the silent step before the piece, at the end of a bar before the first)."""
    idx = np.arange(start, start + steps)
    if piece.position is None:
        return idx % 16, np.tile(np.array([16, 4], np.int64), (steps, 1))
    clipped = np.clip(idx, 0, None)
    meter = piece.meter[clipped]
    pos = np.where(idx < 0, (piece.position[0] - 1) % meter[:, 0], piece.position[clipped])
    return pos.astype(np.int64), meter.astype(np.int64)


def harmony_of(piece) -> tuple[np.ndarray, np.ndarray]:
    """The chord of every step's beat, all voices together (chords.step_labels): (T,) class numbers, (T,)
    basses, -1 where there is none; computed once per piece."""
    if piece.harmony is None:
        pos, meter = positions(piece, 0, piece.matrix.shape[0])
        piece.harmony = step_labels(piece.matrix, pos, meter, LOW_NOTE)
    return piece.harmony


def shifted_chords(labels: np.ndarray, shift: int) -> np.ndarray:
    """Chord class numbers moved by ``shift`` semitones (-1 stays -1)."""
    q = len(QUALITIES)
    return np.where(labels >= 0, ((labels // q + shift) % 12) * q + labels % q, -1)


def harmony_segment(piece, start: int, steps: int, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A segment's chord inputs (steps, 3, 12), its step's beat's chord, and the plan head's targets
    (steps,): the chord of the beat after each step's (-1 past the piece's end or where there is none)."""
    labels, bass = harmony_of(piece)
    T = len(labels)
    idx = np.arange(start, start + steps)
    chord = chord_inputs(labels[idx], bass[idx], shift)
    pos, meter = positions(piece, start, steps)
    after = idx + meter[:, 1] - pos % meter[:, 1]  # the first step of the next beat
    plan = np.where(after < T, labels[np.minimum(after, T - 1)], -1)
    return chord, shifted_chords(plan, shift)


def sample_part_batch(pieces, rng: np.random.Generator, batch_size: int, segment_steps: int,
                      start_multiple: int = 16, transpose: int = 0, weights: np.ndarray | None = None,
                      chord_dropout: float | None = None) -> dict:
    """Random segments, each with the player's voices drawn from PLAYER_PARTS -> dict of
    states (B, T, 78, 2) float32 (the model's part), human (B, T, 78, 2) float32 (the player's),
    steps (B, T) int64 positions in the bar, meter (B, T, 2) int64, and player: the voices drawn.
    With ``chord_dropout`` (a model that knows chords) also chord (B, T, 3, 12), the chord of every step's
    beat over all voices (zeros in that share of segments: no chord given), and plan (B, T) int64, the
    chord of the next beat (harmony_segment)."""
    parts = list(PLAYER_PARTS)
    chance = np.array(list(PLAYER_PARTS.values()))
    states = np.zeros((batch_size, segment_steps, N_NOTES, 2), np.float32)
    human = np.zeros_like(states)
    steps = np.zeros((batch_size, segment_steps), np.int64)
    meter = np.zeros((batch_size, segment_steps, 2), np.int64)
    players = []
    chords = np.zeros((batch_size, segment_steps, 3, 12), np.float32)
    plan = np.full((batch_size, segment_steps), -1, np.int64)
    for b in range(batch_size):
        piece = pieces[rng.integers(len(pieces)) if weights is None else rng.choice(len(pieces), p=weights)]
        n_starts = (piece.matrix.shape[0] - segment_steps) // start_multiple + 1
        start = int(rng.integers(n_starts)) * start_multiple
        shift = int(rng.integers(-transpose, transpose + 1)) if transpose else 0
        player = parts[rng.choice(len(parts), p=chance)] if piece.voices is not None else ()
        if piece.voices is not None:
            seg = piece.voices[start : start + segment_steps]
            own = [v for v in range(seg.shape[1]) if v not in player]
            states[b] = voices_matrix(seg, own, shift)
            human[b] = voices_matrix(seg, player, shift)
        else:
            states[b] = transposed(piece.matrix[start : start + segment_steps], shift)
        steps[b], meter[b] = positions(piece, start, segment_steps)
        players.append(player)
        if chord_dropout is not None:
            chords[b], plan[b] = harmony_segment(piece, start, segment_steps, shift)
            if rng.random() < chord_dropout:
                chords[b] = 0
    batch = {"states": states, "human": human, "steps": steps, "meter": meter, "player": players}
    if chord_dropout is not None:
        batch.update(chord=chords, plan=plan)
    return batch
