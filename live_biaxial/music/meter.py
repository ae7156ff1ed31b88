"""Meters: a time signature as the model counts it, [16ths per bar, 16ths per beat], and the grid of a piece.

Simple meters beat in their denominator (3/4: three quarter-note beats); compound ones (6/8, 9/8, 12/8)
in dotted quarters, three 8ths a beat. At 16ths (4 steps per quarter note):
2/4 (8, 4), 3/4 (12, 4), 4/4 (16, 4), 6/8 (12, 6), 9/8 (18, 6), 12/8 (24, 6).
"""

from __future__ import annotations

import numpy as np

from ..errors import LiveBiaxialError

COMMON_TIME = (16, 4)


def meter_steps(numerator: int, denominator: int, steps_per_beat: int = 4) -> tuple[int, int] | None:
    """A time signature -> (steps per bar, steps per beat) on a grid of ``steps_per_beat`` steps per quarter
    note; None where it does not fall on that grid (e.g. 5/16 at quarter notes)."""
    if numerator < 1 or denominator < 1:
        return None
    per_unit = 4 * steps_per_beat / denominator  # steps per note of the denominator
    beat = 3 * per_unit if denominator >= 8 and numerator % 3 == 0 and numerator > 3 else per_unit
    bar = numerator * per_unit
    if bar != int(bar) or beat != int(beat) or beat < 1:
        return None
    return int(bar), int(beat)


def parse_meter(text: str, steps_per_beat: int = 4) -> tuple[int, int]:
    """'6/8' -> (12, 6); anything else one LiveBiaxialError line."""
    num, sep, den = text.strip().partition("/")
    if not sep or not num.strip().isdigit() or not den.strip().isdigit():
        raise LiveBiaxialError(f"--meter {text}: write a time signature, e.g. 4/4, 3/4, 6/8")
    steps = meter_steps(int(num), int(den), steps_per_beat)
    if steps is None or int(den) & (int(den) - 1):
        raise LiveBiaxialError(f"--meter {text}: not a meter this model's grid of 16ths can count "
                               "(a power-of-two denominator up to 16, e.g. 4/4, 3/4, 6/8, 12/8)")
    return steps


def grid(changes: list[tuple[int, int, int]], n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Meter changes [(step, steps per bar, steps per beat)] -> positions (T,) int64 (steps since the bar
    line; a change starts a bar) and meters (T, 2) int64. Before the first change, and without any: 4/4."""
    position = np.zeros(n_steps, np.int64)
    meter = np.tile(np.array(COMMON_TIME, np.int64), (n_steps, 1))
    marks = [(0, *COMMON_TIME)] + sorted(c for c in changes if 0 <= c[0] < n_steps)
    for k, (start, bar, beat) in enumerate(marks):
        end = marks[k + 1][0] if k + 1 < len(marks) else n_steps
        position[start:end] = np.arange(end - start) % bar
        meter[start:end] = (bar, beat)
    return position, meter
