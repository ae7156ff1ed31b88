"""The live controls, shared by the engine, the console and MIDI CC.

The engine reads them once per step; anything derived (the per-note play bias of a key lock
and range) is computed when a control changes, never on the hot path.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from ..errors import LiveBiaxialError
from ..music.representation import LOW_NOTE, N_NOTES

SCALES = {
    "chromatic": tuple(range(12)),
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),  # minor with the leading tone: Bach's minor keys
}
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FORBIDDEN = -np.inf
MINOR_SCALES = ("minor", "dorian", "harmonic minor")  # scales whose tonic chord is minor
_KEY_WORDS = {"": "major", "maj": "major", "m": "minor", "min": "minor", "harmonic": "harmonic minor"}

TEMPERATURE_RANGE = (0.05, 3.0)  # what a player may set (1 = plain sampling)
MODEL_TEMPERATURE_RANGE = (0.1, 2.0)  # a model's own temperature (its metadata), and what a knob sweeps
TEMPERATURE_HELP = "sampling temperature, < 1: safer notes, > 1: wilder (default: the model's own, else 1)"
# MIDI CC numbers on the --input port by default (documented in the README; MIDI learn changes them: cc_map.py)
CC_ANTI_SILENCE, CC_TEMPERATURE, CC_VELOCITY, CC_DENSITY, CC_HARMONY = 20, 21, 22, 23, 24
# the harmony control's default: how strongly notes off the chord are held back where a chord is known
# (harmony.harmony_bias; chosen on bench/bench_listening.py's chord-tone and motion figures, docs/listening.md)
HARMONY_DEFAULT = 0.5
# the controls a knob can move, and how its value 0..127 maps onto each
KNOBS = {
    "anti_silence": lambda v: v / 127.0,
    "temperature": lambda v: MODEL_TEMPERATURE_RANGE[0] + (MODEL_TEMPERATURE_RANGE[1] - MODEL_TEMPERATURE_RANGE[0]) * v / 127.0,
    "velocity": lambda v: max(1, v),
    "density": lambda v: -4.0 + 8.0 * v / 127.0,
    "harmony": lambda v: v / 127.0,
}


@dataclasses.dataclass
class Controls:
    anti_silence: float = 1.0  # 0 (off) .. 1 (the original's rule)
    temperature: float = 1.0  # 0.1 .. 2
    velocity: int = 80  # 1..127, or the base of the probability-following velocity
    velocity_follows_probability: bool = False
    density: float = 0.0  # added to every play logit: -4 (sparser) .. +4 (denser)
    channel: int = 0  # 0..15 (musicians' 1..16)
    key_root: int = 0  # 0 = C
    scale: str = "chromatic"
    low: int = LOW_NOTE  # MIDI range allowed to play
    high: int = LOW_NOTE + N_NOTES - 1
    leave_players_notes: bool = False  # True: a model that listens never plays a pitch the player sounds
    harmony: float = HARMONY_DEFAULT  # 0 (as the model likes) .. 1 (only chord tones and notes passing by step)
    play_bias: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(N_NOTES, np.float32), repr=False)

    def __post_init__(self):
        self.update()

    def update(self, **changes) -> None:
        """Change controls; recomputes the per-note bias (a fresh array, swapped in at once)."""
        for k, v in changes.items():
            if not hasattr(self, k):
                raise AttributeError(k)
            setattr(self, k, v)
        self.anti_silence = float(np.clip(self.anti_silence, 0.0, 1.0))
        self.temperature = float(np.clip(self.temperature, *TEMPERATURE_RANGE))
        self.velocity = int(np.clip(self.velocity, 1, 127))
        self.density = float(np.clip(self.density, -6.0, 6.0))
        self.harmony = float(np.clip(self.harmony, 0.0, 1.0))
        self.channel = int(np.clip(self.channel, 0, 15))
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}; choose from {', '.join(SCALES)}")
        midi = np.arange(N_NOTES) + LOW_NOTE
        allowed = np.isin((midi - self.key_root) % 12, SCALES[self.scale]) & (midi >= self.low) & (midi <= self.high)
        self.play_bias = np.where(allowed, np.float32(self.density), np.float32(FORBIDDEN)).astype(np.float32)

    def from_knob(self, name: str, value: int) -> None:
        """Set control ``name`` (one of KNOBS) from a knob's MIDI value 0..127."""
        self.update(**{name: KNOBS[name](value)})

    def velocities(self, probs: np.ndarray) -> np.ndarray:
        """Note-on velocities (78,) for one step's P(play)."""
        if not self.velocity_follows_probability:
            return np.full(N_NOTES, self.velocity, np.int64)
        return np.clip(self.velocity * (0.5 + probs), 1, 127).astype(np.int64)

    def key_name(self) -> str:
        return "off" if self.scale == "chromatic" else f"{NOTE_NAMES[self.key_root]} {self.scale}"


def parse_key(text: str) -> tuple[int, str]:
    """A key as musicians write it -> (root pitch class, scale name).

    'D minor', 'Dm', 'F# major', 'Bb', 'eb dorian', 'A harmonic minor' (no scale word = major)."""
    m = re.fullmatch(r"\s*([A-Ga-g])([#b]?)\s*([A-Za-z ]*?)\s*", text)
    word = " ".join(m.group(3).lower().split()) if m else ""
    scale = _KEY_WORDS.get(word, word)
    if not m or scale not in SCALES or scale == "chromatic":
        names = ", ".join(s for s in SCALES if s != "chromatic")
        raise LiveBiaxialError(f"key {text!r}: write a note (C, F#, Bb, ...) and a scale ({names}), e.g. 'D minor' or 'Bb'")
    root = NOTE_NAMES.index(m.group(1).upper()) + {"#": 1, "b": -1, "": 0}[m.group(2)]
    return root % 12, scale


def temperature_or_own(given: float | None, own: float) -> float:
    """The temperature a player gives (--temperature), checked against TEMPERATURE_RANGE, else the model's own."""
    if given is None:
        return own
    low, high = TEMPERATURE_RANGE
    if not low <= given <= high:
        raise LiveBiaxialError(f"--temperature {given:g}: choose one within {low:g}..{high:g} (1 = plain sampling)")
    return given
