"""Which chord the improviser follows at each 16th, and the harmony control that keeps it to that chord.

``HarmonyFollower`` picks the chord of every 16th from the first source that has one, in this order:

1. a chart (``--chords "Am | F | C G | E7"`` or a file's chord symbols): it says the chord, or N.C.;
2. a chord track (``--chord-channel N``): the chord recognised from the notes held on that channel, kept
   until the track plays another;
3. the player: the chord recognised from the notes the player holds, while they form one
   (``chords.held_chord``: three pitch classes or more, all tones of one chord);
4. the model's own plan (a model that knows chords): its plan head's chord for the next beat, drawn once
   a beat at the last 16th of the beat before.

A model that knows chords gets the chosen chord as its input; any model gets the harmony control
(``harmony_bias``), which needs only the chord.
"""

from __future__ import annotations

import numpy as np

from ..music.chords import CHORD_ROWS, N_CHORDS, Chord, ChordChart, held_chord, recognise
from ..music.representation import PITCH_CLASS

SOURCES = ("chart", "track", "player", "plan")
PLAN_TEMPERATURE = 0.5  # the plan's logits are divided by this before a chord is drawn
PASSING_STEP = 2  # semitones: off the beat, a note this close to a chord tone the model sounded before passes
SHARPNESS = 4  # at strength h the odds of a note off the chord are multiplied by (1 - h) ** SHARPNESS
# a leap: a note further than PASSING_STEP from every note the model sounded the 16th before; where the control
# leaves it open (a chord tone), its odds are still multiplied by (1 - h) ** (SHARPNESS * LEAP_SHARE), so that
# the part moves by step more often (chosen by bench_harmony --leap-share 0 / 0.5 / 1: docs/harmony.md)
LEAP_SHARE = 1.0
LEAP_HOLD_MAX = 0.75  # a leap is held back at most as firmly as harmony 0.75 holds a note off the chord


class HarmonyFollower:
    """The chord of each 16th (see the module). ``choose`` is called once per 16th before the step, ``planned``
    after it with the model's plan; ``chord`` and ``source`` say what was chosen (the console shows them)."""

    def __init__(self, chart: ChordChart | None = None, plans: bool = False, seed: int = 0,
                 plan_temperature: float = PLAN_TEMPERATURE, record: bool = False):
        self.chart, self.plans = chart, plans
        self.plan_temperature = plan_temperature
        self.rng = np.random.default_rng(seed)
        self.chord: Chord | None = None
        self.source: str | None = None
        self.track_chord: Chord | None = None  # the chord track's last chord, kept until it plays another
        self.planned: Chord | None = None  # the plan's chord for the coming beat
        self.input = np.zeros((CHORD_ROWS, 12), np.float32)  # the step graph's chord input, rewritten in place
        self.followed: list[tuple[Chord | None, str | None]] | None = [] if record else None  # per 16th

    def choose(self, bar: int, position: int, steps_per_bar: int, track=None, player=None) -> np.ndarray:
        """The chord of 16th ``position`` of bar ``bar`` -> the chord input (3, 12) (zeros: none).
        track: MIDI pitches held on the chord track (None: no chord track); player: the player's pitches held."""
        chord, source = self._find(bar, position, steps_per_bar, track, player)
        if chord != self.chord:
            if chord is None:
                self.input[:] = 0
            else:
                chord.as_input(self.input)
        self.chord, self.source = chord, source
        if self.followed is not None:
            self.followed.append((chord, source))
        return self.input

    def _find(self, bar, position, steps_per_bar, track, player) -> tuple[Chord | None, str | None]:
        if self.chart is not None:
            return self.chart.chord_at(bar, position, steps_per_bar), "chart"
        if track is not None:
            if len(track):
                found = track_chord(track)
                self.track_chord = found or self.track_chord
            if self.track_chord is not None:
                return self.track_chord, "track"
        if player is not None and len(player):
            held = held_chord(player)
            if held is not None:
                return held, "player"
        if self.plans and self.planned is not None:
            return self.planned, "plan"
        return None, None

    def upcoming(self, bar: int, position: int, steps_per_bar: int) -> Chord | None:
        """The chart's next chord after the one at (bar, position), looking up to a chart's length ahead (the
        plan's next is ``planned`` once drawn; a track's or a player's is not known ahead)."""
        if self.chart is None:
            return self.planned if self.source == "plan" else None
        now = self.chart.chord_at(bar, position, steps_per_bar)
        for k in range(1, self.chart.span(steps_per_bar) + 1):
            b, p = divmod(bar * steps_per_bar + position + k, steps_per_bar)
            chord = self.chart.chord_at(b, p, steps_per_bar)
            if chord != now:
                return chord
        return None

    def describe(self, chord_channel: int | None = None, player: str | None = "your held chords") -> str:
        """Where the chords come from, first found wins, e.g. 'the chart Am | F', 'your held chords, then its plan'."""
        if self.chart is not None:
            return f"the chart {self.chart.text()}"
        found = ([f"the chord track (channel {chord_channel})"] if chord_channel else []) + ([player] if player else [])
        return ", then ".join(found + (["its own plan"] if self.plans else []))

    def after_step(self, plan_logits: np.ndarray, position: int, beat_steps: int) -> None:
        """At the last 16th of a beat, draw the next beat's chord from the plan (156,) logits."""
        if not self.plans or (position + 1) % beat_steps:
            return
        z = plan_logits.astype(np.float64) / self.plan_temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        self.planned = Chord.from_index(int(self.rng.choice(N_CHORDS, p=p)))


def track_chord(pitches) -> Chord | None:
    """The chord of the notes held on a chord track: two pitch classes or more (a DAW's chord track may
    send a bare fifth or a third), recognised as ``chords.recognise`` does."""
    pcs = {p % 12 for p in pitches}
    if len(pcs) < 2:
        return None
    w = np.zeros(12, np.float32)
    w[list(pcs)] = 1
    return recognise(w, 1.0, min(pitches) % 12)


def harmony_bias(play_bias: np.ndarray, chord: np.ndarray, previous: np.ndarray, strength: float,
                 on_beat: bool, out: np.ndarray, player: np.ndarray | None = None) -> np.ndarray:
    """The play bias (78,) with the harmony control applied, written into out (78,) (play_bias itself where
    the control changes nothing).

    chord (3, 12): the chord input (zeros: no chord, nothing changes); previous (78, 2): the model's notes
    of the 16th before. Open: the chord's tones and, off the beat, a note that passes: a step (1 or
    PASSING_STEP semitones) from a chord tone the model sounded the 16th before (a passing or neighbour
    note, which the next beat resolves). Every other note's odds of playing are multiplied by
    (1 - strength) ** SHARPNESS: 0 changes nothing, 0.5 takes them to 1/16, 1 closes them. So are the
    pitches the player sounds (player (78,) bool): a chord tone the player has is left to the player. A chord
    tone that would leap (LEAP_SHARE) is held back as well, by the same factor to the power LEAP_SHARE."""
    if strength <= 0 or not chord[0].any():
        return play_bias  # nothing to change: no copy
    np.copyto(out, play_bias)
    tones = chord[0][PITCH_CLASS] > 0  # (78,)
    sounded = previous[:, 0] > 0
    open_ = tones if on_beat else tones | _near(tones & sounded)
    if player is not None:
        open_ &= ~player
    penalty = np.float32(SHARPNESS * np.log1p(-strength)) if strength < 1 else np.float32(-np.inf)
    out[~open_] += penalty
    if LEAP_SHARE and sounded.any():  # chord tones a leap from all it sounded: held back too, never closed
        leaps = open_ & ~sounded & ~_near(sounded)
        out[leaps] += np.float32(SHARPNESS * LEAP_SHARE * np.log1p(-min(strength, LEAP_HOLD_MAX)))
    return out


def _near(mask: np.ndarray) -> np.ndarray:
    """(78,) bool -> (78,) bool: within PASSING_STEP semitones of a True (itself excluded)."""
    near = np.zeros_like(mask)
    for k in range(1, PASSING_STEP + 1):
        near[k:] |= mask[:-k]
        near[:-k] |= mask[k:]
    return near
