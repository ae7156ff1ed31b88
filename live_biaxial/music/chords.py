"""Chords: symbols, charts, the recogniser, and the chord as the step graph reads it.

A chord is a root, a quality from ``QUALITIES`` and a bass (the root unless a slash chord says otherwise).
Its pitch classes are the quality's intervals above the root, plus the bass.

The vocabulary (13 qualities x 12 roots = 156 chords, ``N_CHORDS``): major, minor, dim, aug, sus2, sus4,
6, m6, 7, maj7, m7, m7b5, dim7. A chord's class number is ``root * len(QUALITIES) + quality``.

The recogniser (``recognise``) scores every chord of the vocabulary against a window of music (a beat of
the data, or the notes a player holds now): ``w[pc]`` is the number of 16ths of the window in which pitch
class pc sounds (in any voice: doubling counts once), B the window's length in 16ths. A chord scores

    sum over its tones of (w - 3 (B - w))  -  sum over the other pitch classes of w

so a tone sounding through the window adds B, a tone missing costs 3 B, and a note outside the chord costs
what it sounds. A tone adds itself to a chord (a seventh, a sixth) only where it sounds at least 3/4 of
the window: a passing 8th in a beat stays a passing tone. Ties are cut by, in order: the root in the bass, fewer tones (a triad before a sixth or
seventh chord with the same score), the order of ``QUALITIES``. A window in which fewer than two of the best
chord's tones sound has no chord (None): a single note or a bare interval is not a harmony.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from ..errors import LiveBiaxialError

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")  # how a root or bass is written
# (suffix as written, intervals above the root); the suffix is also the quality's name
QUALITIES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("", (0, 4, 7)), ("m", (0, 3, 7)), ("dim", (0, 3, 6)), ("aug", (0, 4, 8)),
    ("sus2", (0, 2, 7)), ("sus4", (0, 5, 7)), ("6", (0, 4, 7, 9)), ("m6", (0, 3, 7, 9)),
    ("7", (0, 4, 7, 10)), ("maj7", (0, 4, 7, 11)), ("m7", (0, 3, 7, 10)), ("m7b5", (0, 3, 6, 10)),
    ("dim7", (0, 3, 6, 9)),
)
N_CHORDS = 12 * len(QUALITIES)
# other spellings of the suffixes -> the one in QUALITIES
ALIASES = {"maj": "", "M": "", "min": "m", "-": "m", "mi": "m", "o": "dim", "°": "dim", "+": "aug",
           "sus": "sus4", "M7": "maj7", "Δ": "maj7", "Δ7": "maj7", "ma7": "maj7", "min7": "m7", "-7": "m7",
           "mi7": "m7", "ø": "m7b5", "ø7": "m7b5", "min7b5": "m7b5", "-7b5": "m7b5", "o7": "dim7",
           "°7": "dim7", "min6": "m6", "-6": "m6", "dom7": "7"}
NO_CHORD = ("N.C.", "NC", "N.C")  # a bar or beat with no harmony
SUFFIXES = {name: k for k, (name, _) in enumerate(QUALITIES)}
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SYMBOL = re.compile(r"^([A-Ga-g])([#b♯♭]?)(.*?)(?:/([A-Ga-g])([#b♯♭]?))?$")
# the chord input of the step graph: rows pitch classes, root, bass; all zeros = no chord known
CHORD_ROWS = 3
MISSING = 3  # what a chord tone costs per 16th it is silent, against 1 per 16th of a note outside the chord
TEMPLATES = np.zeros((12, N_CHORDS), np.float32)  # (12, 156): TEMPLATES[pc, c] = 1 if pc is a tone of chord c
for _root in range(12):
    for _q, (_, _intervals) in enumerate(QUALITIES):
        TEMPLATES[[(_root + i) % 12 for i in _intervals], _root * len(QUALITIES) + _q] = 1
SIZES = TEMPLATES.sum(axis=0)  # (156,) tones per chord
ROOTS = np.repeat(np.arange(12), len(QUALITIES))  # (156,) root of each class


class ChordError(LiveBiaxialError):
    """A chord symbol or chart that cannot be read."""


@dataclasses.dataclass(frozen=True)
class Chord:
    root: int  # pitch class 0..11 (0 = C)
    quality: int  # index into QUALITIES
    bass: int  # pitch class of the lowest note (the root unless a slash chord)

    @property
    def index(self) -> int:
        """The class number of the chord head and of ``recognise`` (the bass left out)."""
        return self.root * len(QUALITIES) + self.quality

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.root + i) % 12 for i in QUALITIES[self.quality][1]) | {self.bass}

    @property
    def name(self) -> str:
        text = NAMES[self.root] + QUALITIES[self.quality][0]
        return text if self.bass == self.root else f"{text}/{NAMES[self.bass]}"

    def transposed(self, shift: int) -> "Chord":
        return Chord((self.root + shift) % 12, self.quality, (self.bass + shift) % 12)

    def as_input(self, out: np.ndarray | None = None) -> np.ndarray:
        """The step graph's chord input (3, 12) float32: [pitch classes, root one-hot, bass one-hot]."""
        out = np.zeros((CHORD_ROWS, 12), np.float32) if out is None else out
        out[:] = 0
        out[0, list(self.pitch_classes)] = 1
        out[1, self.root] = 1
        out[2, self.bass] = 1
        return out

    @classmethod
    def from_index(cls, index: int, bass: int | None = None) -> "Chord":
        root, quality = divmod(int(index), len(QUALITIES))
        return cls(root, quality, root if bass is None else bass)


_ACCIDENTALS = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1}


def _pitch_class(letter: str, accidental: str) -> int:
    return (_LETTERS[letter.upper()] + _ACCIDENTALS[accidental]) % 12


def parse_chord(symbol: str) -> Chord | None:
    """'Am' -> A minor, 'G7/B' -> G7 over B, 'N.C.' -> None (no chord); anything else one ChordError line."""
    text = symbol.strip()
    if text.upper() in NO_CHORD:
        return None
    m = _SYMBOL.match(text)
    if m is not None and "/" in m.group(3):
        bass = m.group(3).rsplit("/", 1)[1]
        raise ChordError(f"chord {symbol!r}: its slash bass {bass!r} is not a note (write e.g. G7/B, C/Eb)")
    if m is None:
        raise ChordError(f"chord {symbol!r}: not a chord symbol (write e.g. C, Am, F#m7, Bbmaj7, G7/B, N.C.)")
    letter, accidental, suffix, bass_letter, bass_accidental = m.groups()
    suffix = ALIASES.get(suffix, suffix)
    if suffix not in SUFFIXES:
        known = ", ".join(f"C{name}" for name, _ in QUALITIES)
        raise ChordError(f"chord {symbol!r}: unknown chord quality {m.group(3)!r} (known: {known}, and slash bass)")
    root = _pitch_class(letter, accidental)
    bass = _pitch_class(bass_letter, bass_accidental) if bass_letter else root
    return Chord(root, SUFFIXES[suffix], bass)


@dataclasses.dataclass(frozen=True)
class ChordChart:
    """Bars of chords that repeat: ``bars[k]`` holds bar k's chords (None: no chord), sharing it evenly."""

    bars: tuple[tuple[Chord | None, ...], ...]

    @classmethod
    def parse(cls, text: str) -> "ChordChart":
        """'Am | F | C G | E7': bars split by '|', chords within a bar by spaces; '%' repeats the bar before."""
        if not text.replace("|", "").strip():
            raise ChordError(f"--chords {text!r}: no chords (write e.g. \"Am | F | C G | E7\")")
        bars = []
        for k, cell in enumerate(text.split("|")):
            symbols = cell.split()
            if not symbols:
                if text.strip().startswith("|") and k == 0 or text.strip().endswith("|") and k == text.count("|"):
                    continue  # an outer bar line
                raise ChordError(f"--chords {text!r}: bar {len(bars) + 1} is empty (write N.C. for a bar without chords)")
            if symbols == ["%"]:
                if not bars:
                    raise ChordError(f"--chords {text!r}: '%' repeats the bar before, but the chart starts with it")
                bars.append(bars[-1])
                continue
            bars.append(tuple(parse_chord(s) for s in symbols))
        return cls(tuple(bars))

    def chord_at(self, bar: int, position: int, steps_per_bar: int) -> Chord | None:
        """The chord of 16th ``position`` (0-based) of bar ``bar`` (0-based; the chart repeats)."""
        chords = self.bars[bar % len(self.bars)]
        return chords[min(position * len(chords) // steps_per_bar, len(chords) - 1)]

    def span(self, steps_per_bar: int) -> int:
        """16ths until the chart repeats."""
        return len(self.bars) * steps_per_bar

    def text(self) -> str:
        return " | ".join(" ".join(c.name if c else "N.C." for c in bar) for bar in self.bars)


def chord_scores(weights: np.ndarray, window: float, bass: np.ndarray | int | None = None) -> np.ndarray:
    """weights (..., 12): 16ths each pitch class sounds in a window of ``window`` 16ths -> scores (..., 156),
    ties already cut (the module's rule): the best chord is the argmax. bass (...) pitch class or -1/None."""
    w = np.asarray(weights, np.float32)
    on = w @ TEMPLATES  # (..., 156) summed weights of each chord's tones
    total = w.sum(axis=-1, keepdims=True)
    scores = (1 + MISSING) * on - MISSING * SIZES * window - (total - on)  # sum_T (w - 3 (B - w)) - sum_notT w
    tie = -0.001 * SIZES - 1e-5 * np.tile(np.arange(len(QUALITIES)), 12)
    if bass is not None:
        b = np.asarray(bass)
        tie = tie + 0.01 * (ROOTS == b[..., None])
    return scores + tie


def recognise(weights: np.ndarray, window: float = 1.0, bass: int | None = None, min_tones: int = 2) -> Chord | None:
    """The chord of one window (see the module's rule), or None where fewer than ``min_tones`` of its tones
    sound. ``bass``: the pitch class of the lowest note, which becomes the chord's bass."""
    w = np.asarray(weights, np.float32)
    best = int(np.argmax(chord_scores(w, window, bass)))
    if int(((w > 0) @ TEMPLATES)[best]) < min_tones:
        return None
    return Chord.from_index(best, bass if bass is not None and bass >= 0 else None)


def held_chord(pitches, min_pitch_classes: int = 3) -> Chord | None:
    """The chord a player holds (MIDI pitches sounding now), when at least three pitch classes sound and all
    of them are tones of one chord of the vocabulary; None otherwise (a melody, an interval, a cluster)."""
    pitches = list(pitches)
    pcs = {p % 12 for p in pitches}
    if len(pcs) < min_pitch_classes:
        return None
    w = np.zeros(12, np.float32)
    w[list(pcs)] = 1
    bass = min(pitches) % 12
    chord = recognise(w, 1.0, bass, min_tones=min_pitch_classes)
    if chord is None or not pcs <= chord.pitch_classes:
        return None
    return chord


def beat_labels(matrix: np.ndarray, beat_starts: np.ndarray, low_note: int) -> np.ndarray:
    """A piece's chord per beat, all voices together: matrix (T, 78, 2) note states, beat_starts (K,) the
    first step of each beat, ascending -> (K,) class numbers (-1: no chord) and (K,) bass pitch classes."""
    T, n_notes = matrix.shape[:2]
    onehot = np.zeros((n_notes, 12), np.float32)  # note -> its pitch class
    onehot[np.arange(n_notes), (np.arange(n_notes) + low_note) % 12] = 1
    sounding = (matrix[..., 0] > 0).astype(np.float32)  # (T, 78)
    present = (sounding @ onehot > 0).astype(np.float32)  # (T, 12) pitch classes sounding at each step
    ends = np.append(beat_starts[1:], T)
    weights = np.add.reduceat(present, beat_starts, axis=0) if len(beat_starts) else np.zeros((0, 12), np.float32)
    window = (ends - beat_starts).astype(np.float32)[:, None]  # (K, 1)
    lowest = np.where(sounding.any(axis=1), sounding.argmax(axis=1), -1)  # (T,) lowest note sounding
    bass = np.full(len(beat_starts), -1, np.int64)
    for k, (s, e) in enumerate(zip(beat_starts, ends)):
        low = lowest[s:e][lowest[s:e] >= 0]
        if len(low):
            bass[k] = (low[0] + low_note) % 12  # the lowest note at the beat's first sounding step
    w = weights
    scores = chord_scores(w, window, bass)  # (K, 156)
    best = scores.argmax(axis=1)
    tones = ((w > 0).astype(np.float32) @ TEMPLATES)[np.arange(len(best)), best]
    labels = np.where(tones >= 2, best, -1).astype(np.int64)
    return labels, np.where(labels >= 0, bass, -1)


def step_labels(matrix: np.ndarray, position: np.ndarray, meter: np.ndarray, low_note: int) -> tuple[np.ndarray, np.ndarray]:
    """The chord of every step's beat: (T,) class numbers (-1: none) and (T,) bass pitch classes (-1)."""
    beat_start = (position % meter[:, 1]) == 0
    beat_start[0] = True
    starts = np.flatnonzero(beat_start)
    labels, bass = beat_labels(matrix, starts, low_note)
    beat_of_step = np.cumsum(beat_start) - 1  # (T,)
    return labels[beat_of_step], bass[beat_of_step]


def chord_inputs(labels: np.ndarray, bass: np.ndarray, shift: int = 0) -> np.ndarray:
    """(T,) class numbers and basses (-1: none) -> (T, 3, 12) float32 step-graph chord inputs, moved ``shift``."""
    T = len(labels)
    out = np.zeros((T, CHORD_ROWS, 12), np.float32)
    known = labels >= 0
    idx = np.flatnonzero(known)
    roots = (ROOTS[labels[known]] + shift) % 12
    basses = (np.where(bass[known] >= 0, bass[known], ROOTS[labels[known]]) + shift) % 12
    tones = TEMPLATES[:, labels[known]].T  # (K, 12) in C
    out[idx, 0] = np.stack([np.roll(t, shift) for t in tones]) if len(idx) else out[idx, 0]
    out[idx, 0, basses] = 1
    out[idx, 1, roots] = 1
    out[idx, 2, basses] = 1
    return out


@dataclasses.dataclass(frozen=True)
class ChordTimeline:
    """Chords at given 16ths, each until the next, the whole repeating after ``length`` 16ths: a MIDI file's
    chord symbols (``read_chord_track``). Looked up as a chart is (``chord_at``)."""

    changes: tuple[tuple[int, Chord | None], ...]  # (16th, chord), ascending, the first at 0
    length: int

    def chord_at(self, bar: int, position: int, steps_per_bar: int) -> Chord | None:
        step = (bar * steps_per_bar + position) % self.length
        chord = None
        for start, c in self.changes:
            if start > step:
                break
            chord = c
        return chord

    def span(self, steps_per_bar: int) -> int:
        """16ths until the timeline repeats."""
        return self.length

    def text(self) -> str:
        return " ".join(c.name if c else "N.C." for _, c in self.changes)


CHORD_TRACK_NAME = "chords"


def chord_track(followed, steps_per_beat: int = 4, ticks_per_beat: int = 480):
    """A MIDI track of marker events, one per chord change, from the chord of each 16th (None: no chord) ->
    mido.MidiTrack named 'chords' (what ``read_chord_track`` reads back)."""
    import mido

    track = mido.MidiTrack([mido.MetaMessage("track_name", name=CHORD_TRACK_NAME, time=0)])
    ticks_per_step = ticks_per_beat // steps_per_beat
    last, last_tick = object(), 0
    for t, chord in enumerate(followed):
        if chord != last:
            tick = t * ticks_per_step
            track.append(mido.MetaMessage("marker", text=chord.name if chord else "N.C.", time=tick - last_tick))
            last, last_tick = chord, tick
    return track


def read_chord_track(path, steps_per_beat: int = 4) -> ChordTimeline:
    """The chord symbols of a MIDI file (marker or text events, any track, e.g. what `generate` writes) as a
    timeline of 16ths; the file's length (rounded up to a 4/4 bar) is the timeline's."""
    from .representation import read_midi_file

    midi = read_midi_file(path)
    changes, end = {}, 0
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            step = round(tick * steps_per_beat / midi.ticks_per_beat)
            end = max(end, step)
            if msg.type in ("marker", "text", "cue_marker"):
                try:
                    changes[step] = parse_chord(msg.text)
                except ChordError:
                    continue  # a marker that is not a chord symbol (a section's name, lyrics)
    if not changes:
        raise ChordError(f"{path}: no chord symbols in it (marker or text events such as 'Am' or 'G7/B')")
    timeline = tuple(sorted(changes.items()))
    if timeline[0][0] > 0:
        timeline = ((0, None),) + timeline
    length = max(16, -(-max(end, timeline[-1][0] + 1) // 16) * 16)
    return ChordTimeline(timeline, length)
