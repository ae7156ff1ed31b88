"""Piano-roll PNG of a note-state matrix (matplotlib, imported only when asked for)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import LiveBiaxialError
from .representation import LOW_NOTE, N_NOTES


def piano_roll_png(notes: np.ndarray, path: str | Path, steps_per_beat: int = 4, title: str = "") -> None:
    """notes (T, 78, 2): sounding notes in dark blue, strikes marked at their start."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise LiveBiaxialError("--plot needs matplotlib: pip install 'live-biaxial[plot]'") from err
    T = notes.shape[0]
    fig, ax = plt.subplots(figsize=(max(6, T / 24), 4), dpi=100)
    roll = notes[:, :, 0].T.astype(float) * 0.6 + notes[:, :, 1].T * 0.4  # (78, T)
    ax.imshow(roll, origin="lower", aspect="auto", cmap="Blues", vmin=0, vmax=1, interpolation="nearest",
              extent=(0, T, LOW_NOTE - 0.5, LOW_NOTE + N_NOTES - 0.5))
    bar = 4 * steps_per_beat
    for x in range(0, T + 1, bar):
        ax.axvline(x, color="0.75", lw=0.6)
    ax.set_xticks(range(0, T + 1, bar), [str(i + 1) for i in range(len(range(0, T + 1, bar)))])
    ax.set_xlabel("bar")
    ax.set_ylabel("MIDI note")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
