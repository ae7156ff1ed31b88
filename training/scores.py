"""Scores of the music21 corpus read with their parts apart: the chorales with their own time signatures
(some in 3/4), the string quartets, the madrigals.

A score becomes, on the grid of ``steps_per_beat`` steps per quarter note:
- the note-state matrix of all its parts together (T, 78, 2), each note struck where it starts (ties joined);
- its voices (T, V) int16, the MIDI pitch each part sounds at each step (-1 silent; the top note of a
  part's chord, a string player's double stop), as the separated chorales give them: parts.py draws the
  player's voices and the model's from them. Kept for scores of four parts (soprano, alto, tenor, bass; a
  quartet's first violin to its cello), None otherwise;
- the position of every step in its bar (a pickup bar starts part-way through) and its meter
  (music/meter.py), from the first part's measures.

A meter the grid cannot count ends the piece at its bar. Tunes: ``tune_key`` names a piece by the intervals
of its top voice's opening, so that a chorale that the JSB split holds out is held out here too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from live_biaxial.music.meter import COMMON_TIME, meter_steps
from live_biaxial.music.representation import ARTIC, LOW_NOTE, N_NOTES, PLAY

VOICES_KEPT = 4  # scores of this many parts keep their voices apart (PLAYER_PARTS draws from SATB)
TUNE_INTERVALS = 8  # the opening intervals of the top voice that name a tune (few enough that an ornament rarely falls in them)


def read_score(path: Path, steps_per_beat: int) -> dict:
    """A music21 score -> {"matrix", "voices" ((T, V); (0, 0) when not kept), "position", "meter", "note"}.
    Raises whatever music21 raises on a score it cannot read (the caller reports it)."""
    from music21 import converter

    score = converter.parse(str(path))
    parts = list(score.parts) or [score]
    T = int(round(float(score.highestTime) * steps_per_beat))
    note = ""
    position = np.arange(T, dtype=np.int64) % COMMON_TIME[0]
    meter = np.tile(np.array(COMMON_TIME, np.int64), (T, 1))
    signature = None
    for m in parts[0].getElementsByClass("Measure"):
        signature = m.timeSignature or signature
        steps = (meter_steps(signature.numerator, signature.denominator, steps_per_beat)
                 if signature is not None else COMMON_TIME)
        start = int(round(float(m.offset) * steps_per_beat))
        if steps is None:
            note, T = f"cut at step {start} by its time signature {signature.ratioString}", start
            break
        end = min(T, start + int(round(float(m.duration.quarterLength) * steps_per_beat)))
        pad = int(round(float(m.paddingLeft) * steps_per_beat))  # a pickup bar begins part-way through
        position[start:end] = (pad + np.arange(end - start)) % steps[0]
        meter[start:end] = steps
    matrix = np.zeros((T, N_NOTES, 2), np.uint8)
    voices = np.full((T, len(parts)), -1, np.int16)
    for v, part in enumerate(parts):
        for n in part.stripTies().flatten().notes:  # notes and chords, offsets from the score's start
            a = int(round(float(n.offset) * steps_per_beat))
            b = min(T, int(round(float(n.offset + n.quarterLength) * steps_per_beat)))
            if b <= a:
                continue  # a grace note, or past a cut
            pitches = [p.midi for p in n.pitches]
            voices[a:b, v] = max(pitches)
            for p in pitches:
                if 0 <= p - LOW_NOTE < N_NOTES:
                    matrix[a:b, p - LOW_NOTE, PLAY] = 1
                    matrix[a, p - LOW_NOTE, ARTIC] = 1
    if len(parts) != VOICES_KEPT:
        voices = np.zeros((0, 0), np.int16)
    return {"matrix": matrix, "voices": voices, "position": position[:T], "meter": meter[:T], "note": np.array(note)}


def tune_key(voices: np.ndarray) -> tuple[int, ...] | None:
    """voices (T, V) -> the first TUNE_INTERVALS intervals of the top voice's pitches (repeats and rests
    left out, so a held note and a repeated one read alike); None for a tune shorter than that."""
    top = voices[:, 0].astype(np.int64)
    top = top[top >= 0]
    if len(top) == 0:
        return None
    changes = top[np.concatenate([[True], top[1:] != top[:-1]])]
    steps = np.diff(changes)[:TUNE_INTERVALS]
    return tuple(int(s) for s in steps) if len(steps) == TUNE_INTERVALS else None
