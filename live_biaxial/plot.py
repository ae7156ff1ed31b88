"""Piano-roll PNG of a note-state matrix (matplotlib, imported only when asked for)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import LiveBiaxialError
from .music.representation import LOW_NOTE, N_NOTES


def piano_roll_png(notes: np.ndarray, path: str | Path, steps_per_beat: int = 4, title: str = "") -> None:
    """notes (T, 78, 2) drawn to a PNG file (see piano_roll_figure)."""
    import matplotlib.pyplot as plt

    fig = piano_roll_figure(notes, steps_per_beat, title)
    fig.savefig(path)
    plt.close(fig)


def piano_roll_figure(notes: np.ndarray, steps_per_beat: int = 4, title: str = ""):
    """notes (T, 78, 2) as a matplotlib figure: held notes in blue, each note's first 16th darker, bar lines,
    a legend; the pitch axis spans the notes played (note_range)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError as err:
        raise LiveBiaxialError("--plot needs matplotlib: pip install 'live-biaxial[plot]'") from err
    T = notes.shape[0]
    low, high = note_range(notes)
    fig, ax = plt.subplots(figsize=(max(6, T / 24), max(3, 2 + (high - low) / 12)), dpi=100)
    rows = slice(low - LOW_NOTE, high - LOW_NOTE + 1)
    roll = notes[:, rows, 0].T.astype(float) * 0.6 + notes[:, rows, 1].T * 0.4  # (notes shown, T)
    ax.imshow(roll, origin="lower", aspect="auto", cmap="Blues", vmin=0, vmax=1, interpolation="nearest",
              extent=(0, T, low - 0.5, high + 0.5))
    bar = 4 * steps_per_beat
    for x in range(0, T + 1, bar):
        ax.axvline(x, color="0.75", lw=0.6)
    ax.set_xticks(range(0, T + 1, bar), [str(i + 1) for i in range(len(range(0, T + 1, bar)))])
    ax.set_xlabel("bar")
    ax.set_ylabel("MIDI note")
    ax.set_ylim(low - 0.5, high + 0.5)
    cmap = plt.get_cmap("Blues")
    ax.legend(handles=[Patch(color=cmap(1.0), label="note struck (its first 16th)"),
                       Patch(color=cmap(0.6), label="note held")],
              loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False, fontsize="small")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def note_range(notes: np.ndarray, margin: int = 2) -> tuple[int, int]:
    """The MIDI notes a roll of ``notes`` (T, 78, 2) shows: those played, ``margin`` either side, at least an
    octave; the middle octave when nothing plays."""
    played = np.flatnonzero(notes[:, :, 0].any(0))
    if not len(played):
        return 60, 72
    low, high = int(played[0]) + LOW_NOTE - margin, int(played[-1]) + LOW_NOTE + margin
    if high - low < 12:
        low -= (12 - (high - low)) // 2
        high = low + 12
    return max(low, LOW_NOTE), min(high, LOW_NOTE + N_NOTES - 1)
