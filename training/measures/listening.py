"""How an accompanist's notes sit with the music around them: chord tones, key, doubling, following a key change.

Figures are over note-steps: every 16th each of the model's notes sounds counts once.
"""

from __future__ import annotations

import numpy as np

from live_biaxial.music.representation import PITCH_CLASS

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor and its leading tone (harmonic minor's)
TRIADS = [(root, quality) for quality in ("major", "minor", "diminished") for root in range(12)]
_TRIAD_SHAPES = {"major": (0, 4, 7), "minor": (0, 3, 7), "diminished": (0, 3, 6)}


def pitch_classes(root: int, shape) -> np.ndarray:
    """(12,) bool: the classes root + shape."""
    m = np.zeros(12, bool)
    m[[(root + i) % 12 for i in shape]] = True
    return m


def scale_mask(root: int, minor: bool) -> np.ndarray:
    return pitch_classes(root, MINOR_SCALE if minor else MAJOR_SCALE)


def triad_mask(root: int, quality: str) -> np.ndarray:
    return pitch_classes(root, _TRIAD_SHAPES[quality])


def best_triads(music: np.ndarray, beat_steps: int = 4) -> np.ndarray:
    """music (T, 78, 2) all voices -> (T, 12) bool: per step, the classes of its beat's best-fitting triad (the
    major, minor or diminished triad that holds most of the beat's note-steps; a silent beat holds none)."""
    T = music.shape[0]
    masks = np.stack([triad_mask(r, q) for r, q in TRIADS])  # (36, 12)
    out = np.zeros((T, 12), bool)
    for start in range(0, T, beat_steps):
        counts = np.bincount(PITCH_CLASS, weights=music[start : start + beat_steps, :, 0].sum(0), minlength=12)  # (12,)
        if counts.sum():
            out[start : start + beat_steps] = masks[int(np.argmax(masks @ counts))]
    return out


def share_in(notes: np.ndarray, classes: np.ndarray) -> float:
    """notes (T, 78, 2), classes (T, 12) or (12,) bool -> the share of the note-steps whose class is in them."""
    play = notes[..., 0] > 0.5  # (T, 78)
    allowed = np.broadcast_to(classes, (play.shape[0], 12))[:, PITCH_CLASS]  # (T, 78)
    total = play.sum()
    return float((play & allowed).sum() / total) if total else float("nan")


def doubling_share(notes: np.ndarray, player: np.ndarray) -> float:
    """The share of the model's note-steps on a pitch the player sounds at that step."""
    play = notes[..., 0] > 0.5
    total = play.sum()
    return float((play & (player[..., 0] > 0.5)).sum() / total) if total else float("nan")


def steps_to_follow(notes: np.ndarray, change: int, scale: np.ndarray, hold: int = 4) -> int | None:
    """16ths from ``change`` until the model's notes keep to ``scale`` (12,) for ``hold`` 16ths running (a silent
    16th counts as keeping to it); None if they never do."""
    play = notes[..., 0] > 0.5
    ok = ~(play & ~scale[PITCH_CLASS]).any(axis=1)  # (T,) every note of the 16th in the scale
    run = 0
    for t in range(change, notes.shape[0]):
        run = run + 1 if ok[t] else 0
        if run == hold:
            return t - hold + 1 - change
    return None


def notes_per_step(notes: np.ndarray) -> float:
    return float((notes[..., 0] > 0.5).sum() / max(notes.shape[0], 1))


def step_share(notes: np.ndarray) -> float:
    """Of the struck notes with a note of its own sounding the 16th before, the share a step (1 or 2 semitones)
    from the nearest of those: how much of the part moves by step (an arpeggio leaps, a melody steps)."""
    play, strike = notes[..., 0] > 0.5, notes[..., 1] > 0.5
    steps = total = 0
    for t in range(1, notes.shape[0]):
        before = np.flatnonzero(play[t - 1])
        if not len(before):
            continue
        for n in np.flatnonzero(strike[t]):
            total += 1
            steps += int(np.abs(before - n).min() in (1, 2))
    return steps / total if total else float("nan")


def repeated_bar_share(notes: np.ndarray, bar_steps: int = 16) -> float:
    """The share of bars (after the first) whose notes and strikes are exactly those of an earlier bar."""
    bars = [notes[s : s + bar_steps].astype(bool).tobytes() for s in range(0, notes.shape[0] - bar_steps + 1, bar_steps)]
    return sum(b in bars[:k] for k, b in enumerate(bars) if k) / max(len(bars) - 1, 1)


def onset_bits(notes: np.ndarray, beat_steps: int = 4) -> float:
    """The entropy in bits of the beats' onset patterns (which 16ths of the beat strike any note): 0 for a part
    that strikes the same way every beat, up to beat_steps bits."""
    strike = (notes[..., 1] > 0.5).any(axis=1)  # (T,)
    n = len(strike) // beat_steps
    codes = strike[: n * beat_steps].reshape(n, beat_steps) @ (1 << np.arange(beat_steps))
    p = np.bincount(codes, minlength=1 << beat_steps) / max(n, 1)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def chord_masks(chords) -> np.ndarray:
    """A chord (chords.Chord or None) per step -> (T, 12) bool: its pitch classes (none for None)."""
    out = np.zeros((len(chords), 12), bool)
    for t, chord in enumerate(chords):
        if chord is not None:
            out[t, list(chord.pitch_classes)] = True
    return out


def share_in_known(notes: np.ndarray, classes: np.ndarray) -> float:
    """share_in over the steps where some chord is known (classes (T, 12) not all False)."""
    known = classes.any(axis=1)
    return share_in(notes[known], classes[known]) if known.any() else float("nan")
