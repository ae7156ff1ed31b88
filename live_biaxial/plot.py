"""Piano-roll PNG of a note-state matrix (matplotlib, imported only when asked for)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import LiveBiaxialError
from .music.representation import LOW_NOTE, N_NOTES


def check_plot_path(path: str | Path) -> None:
    """Before any work: matplotlib is there and the PNG's folder exists; else one LiveBiaxialError line."""
    _pyplot()
    folder = Path(path).expanduser().resolve().parent
    if not folder.is_dir():
        raise LiveBiaxialError(f"--plot {path}: no folder {folder} to write the picture into")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise LiveBiaxialError("--plot needs matplotlib: pip install 'live-biaxial[plot]'") from err
    return plt


def piano_roll_png(notes: np.ndarray, path: str | Path, steps_per_beat: int = 4, title: str = "",
                   bar_steps: int | None = None, part: np.ndarray | None = None) -> None:
    """notes (T, 78, 2) drawn to a PNG file (see piano_roll_figure)."""
    plt = _pyplot()
    fig = piano_roll_figure(notes, steps_per_beat, title, bar_steps, part)
    try:
        fig.savefig(path)
    except OSError as err:
        raise LiveBiaxialError(f"--plot {path}: cannot write it ({err.strerror})") from err
    finally:
        plt.close(fig)


def piano_roll_figure(notes: np.ndarray, steps_per_beat: int = 4, title: str = "", bar_steps: int | None = None,
                      part: np.ndarray | None = None):
    """notes (T, 78, 2) as a matplotlib figure: held notes in blue, each note's first 16th darker, bar lines every
    ``bar_steps`` steps (default a 4/4 bar), a legend; ``part`` (T, 78, 2), the part played along with, in
    orange over them; the pitch axis spans the notes played (note_range)."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    T = notes.shape[0]
    both = notes if part is None else np.maximum(notes, part[:T])
    low, high = note_range(both)
    fig, ax = plt.subplots(figsize=(max(6, T / 24), max(3, 2 + (high - low) / 12)), dpi=100)
    rows = slice(low - LOW_NOTE, high - LOW_NOTE + 1)
    extent = (0, T, low - 0.5, high + 0.5)
    roll = notes[:, rows, 0].T.astype(float) * 0.6 + notes[:, rows, 1].T * 0.4  # (notes shown, T)
    ax.imshow(roll, origin="lower", aspect="auto", cmap="Blues", vmin=0, vmax=1, interpolation="nearest", extent=extent)
    handles = [Patch(color=plt.get_cmap("Blues")(1.0), label="note struck (its first 16th)"),
               Patch(color=plt.get_cmap("Blues")(0.6), label="note held")]
    if part is not None:
        theirs = part[:T, rows, 0].T.astype(float) * 0.6 + part[:T, rows, 1].T * 0.4
        ax.imshow(np.ma.masked_equal(theirs, 0), origin="lower", aspect="auto", cmap="Oranges", vmin=0, vmax=1,
                  interpolation="nearest", extent=extent)
        handles.append(Patch(color=plt.get_cmap("Oranges")(0.8), label="the part it plays along with"))
    bar = bar_steps or 4 * steps_per_beat
    for x in range(0, T + 1, bar):
        ax.axvline(x, color="0.75", lw=0.6)
    ax.set_xticks(range(0, T + 1, bar), [str(i + 1) for i in range(len(range(0, T + 1, bar)))])
    ax.set_xlabel("bar")
    ax.set_ylabel("MIDI note")
    ax.set_ylim(low - 0.5, high + 0.5)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(handles), frameon=False,
              fontsize="small")
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
