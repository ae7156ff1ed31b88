"""Does generated music look like the data? Simple statistics of note-state matrices, side by side.

All functions take pieces as (T, 78, 2) arrays (play, articulate) and use only numpy.
"""

from __future__ import annotations

import numpy as np

from live_biaxial.music.representation import LOW_NOTE

# Krumhansl-Kessler key profiles (C major, C minor), to bring every piece to one key before
# comparing pitch-class histograms: pieces in different keys would otherwise look unlike.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# pitch-class sets of every major, harmonic minor and melodic minor scale (natural minor = a major set)
_SCALE_SHAPES = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 11), (0, 2, 3, 5, 7, 9, 11))
SCALE_MASKS = np.array([sum(1 << ((root + i) % 12) for i in shape) for shape in _SCALE_SHAPES for root in range(12)])

# how close each statistic must be to the data's (relative, with an absolute floor for shares near 0)
TOLERANCE = 0.25
SHARE_FLOOR = 0.02


def pitch_class_histogram(piece: np.ndarray) -> np.ndarray:
    """(12,) share of sounding note-steps per pitch class (index 0 = C)."""
    counts = piece[:, :, 0].sum(0).astype(np.float64)  # (78,) steps each note plays
    hist = np.zeros(12)
    np.add.at(hist, (np.arange(len(counts)) + LOW_NOTE) % 12, counts)
    return hist / max(hist.sum(), 1.0)


def key_of(hist: np.ndarray) -> tuple[int, bool]:
    """The best-fitting key of a pitch-class histogram: (tonic pitch class, minor?)."""
    best, key = -np.inf, (0, False)
    for r in range(12):
        rotated = np.roll(hist, -r)
        for minor, profile in ((False, KK_MAJOR), (True, KK_MINOR)):
            score = np.corrcoef(rotated, profile)[0, 1]
            if score > best:
                best, key = score, (r, minor)
    return key


def fifths_between(a: tuple[int, bool], b: tuple[int, bool]) -> int:
    """Signed steps round the circle of fifths from key a to key b (-5..6; a minor key counts as its relative major)."""
    major_a, major_b = (a[0] + 3 * a[1]) % 12, (b[0] + 3 * b[1]) % 12
    d = (major_b - major_a) * 7 % 12
    return d - 12 if d > 6 else d


def key_fit(hist: np.ndarray) -> float:
    """How clearly a pitch-class histogram is in one key: its best correlation with a rotated key profile (-1..1)."""
    return max(float(np.corrcoef(np.roll(hist, -r), profile)[0, 1]) for r in range(12) for profile in (KK_MAJOR, KK_MINOR))


def key_clarity(pieces: list[np.ndarray], window: int) -> float:
    """The mean ``key_fit`` of every whole window of ``window`` steps that sounds (0 if none does)."""
    fits = [key_fit(pitch_class_histogram(p[i : i + window])) for p in pieces
            for i in range(0, len(p) - window + 1, window) if p[i : i + window, :, 0].any()]
    return float(np.mean(fits)) if fits else 0.0


def piece_keys(pieces: list[np.ndarray]) -> list[tuple[int, bool] | None]:
    """Each piece's best-fitting key over the whole piece (None for a piece that never sounds)."""
    return [key_of(pitch_class_histogram(p)) if p[:, :, 0].any() else None for p in pieces]


def minor_share(pieces: list[np.ndarray]) -> float:
    """The share of sounding pieces whose best-fitting key is minor (0 if none sounds)."""
    keys = [k for k in piece_keys(pieces) if k is not None]
    return float(np.mean([minor for _, minor in keys])) if keys else 0.0


def to_c(hist: np.ndarray) -> np.ndarray:
    """Rotate a pitch-class histogram so that its most likely key (major or minor) is on C."""
    return np.roll(hist, -key_of(hist)[0])


def key_drift(pieces: list[np.ndarray], window: int) -> dict:
    """How far the key of each piece's last ``window`` steps is from its first's, in fifths."""
    d = np.array([fifths_between(key_of(pitch_class_histogram(p[:window])), key_of(pitch_class_histogram(p[-window:])))
                  for p in pieces if p[:window, :, 0].any() and p[-window:, :, 0].any()])
    return {"pieces": len(d), "same_key_share": float(np.mean(d == 0)), "mean_fifths": float(d.mean()),
            "mean_abs_fifths": float(np.abs(d).mean()), "sharpwards_share": float(np.mean(d > 0))}


def key_normalised_histogram(pieces: list[np.ndarray]) -> np.ndarray:
    hists = [to_c(pitch_class_histogram(p)) for p in pieces if p[:, :, 0].any()]
    mean = np.mean(hists, axis=0) if hists else np.zeros(12)
    return mean / max(mean.sum(), 1e-12)


def mode_histograms(pieces: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The key-normalised histogram of the pieces in a major key and of those in a minor key, apart."""
    keys = piece_keys(pieces)
    return {mode: key_normalised_histogram([p for p, k in zip(pieces, keys) if k is not None and k[1] == minor])
            for mode, minor in (("major", False), ("minor", True))}


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance: the share of probability mass that would have to move (0..1)."""
    return float(0.5 * np.abs(a - b).sum())


def excerpts(pieces: list[np.ndarray], n: int, steps: int, seed: int) -> list[np.ndarray]:
    """n random excerpts of at most ``steps`` steps from distinct pieces (fewer if there are fewer pieces)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.permutation(len(pieces))[:n]:
        p = pieces[i]
        start = int(rng.integers(max(len(p) - steps, 0) + 1))
        out.append(p[start : start + steps])
    return out


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for x in mask:
        run = run + 1 if x else 0
        best = max(best, run)
    return best


def music_stats(pieces: list[np.ndarray], steps_per_bar: int = 16) -> dict:
    """Silences, density, scale fit and loops over a list of pieces."""
    steps = silent = notes = fit = sounding_steps = bars = repeats = 0
    longest = 0
    for p in pieces:
        play = p[:, :, 0] > 0  # (T, 78)
        n = play.sum(1)
        steps += len(play)
        silent += int((n == 0).sum())
        notes += int(n.sum())
        longest = max(longest, _longest_run(n == 0))
        masks = np.zeros(len(play), np.int64)  # pitch-class set of each step as 12 bits
        for k in range(play.shape[1]):
            masks |= play[:, k].astype(np.int64) << ((k + LOW_NOTE) % 12)
        sounding = masks != 0
        sounding_steps += int(sounding.sum())
        fit += int(((masks[sounding, None] & ~SCALE_MASKS[None, :]) == 0).any(1).sum())
        n_bars = len(play) // steps_per_bar
        bar_rolls = play[: n_bars * steps_per_bar].reshape(n_bars, steps_per_bar, play.shape[1])
        for b in range(1, n_bars):
            if bar_rolls[b].any():
                bars += 1
                repeats += int(np.array_equal(bar_rolls[b], bar_rolls[b - 1]))
    return {
        "silent_share": silent / max(steps, 1),
        "longest_silence_steps": longest,
        "notes_per_step": notes / max(steps, 1),
        "scale_fit_share": fit / max(sounding_steps, 1),
        "repeated_bar_share": repeats / max(bars, 1),
        "steps": steps,
        "pieces": len(pieces),
    }


def compare(generated: list[np.ndarray], data: list[np.ndarray], reference: list[np.ndarray],
            steps_per_bar: int = 16) -> dict:
    """Statistics of generated pieces against the data's, each with a verdict.

    ``reference`` is a second set of real pieces (another split). The generated pieces' key-
    normalised pitch-class histogram is measured against the reference's; the data's figure is
    the same distance for real excerpts drawn like the generated ones (as many pieces, as long),
    the median of 32 draws, so that both carry the same sampling noise.
    """
    g, d = music_stats(generated, steps_per_bar), music_stats(data, steps_per_bar)
    ref_hist = key_normalised_histogram(reference)
    g["pitch_class_distance"] = histogram_distance(key_normalised_histogram(generated), ref_hist)
    d["pitch_class_distance"] = float(np.median([
        histogram_distance(key_normalised_histogram(excerpts(data, len(generated), len(generated[0]), seed)), ref_hist)
        for seed in range(32)]))
    rows = {}
    for name in ("silent_share", "notes_per_step", "scale_fit_share", "repeated_bar_share", "pitch_class_distance"):
        floor = SHARE_FLOOR if name != "notes_per_step" else 0.0
        bound = max(TOLERANCE * abs(d[name]), floor)
        if name == "pitch_class_distance":  # a distance: only being further off than the data counts
            ok = g[name] <= d[name] + bound
        else:
            ok = abs(g[name] - d[name]) <= bound
        rows[name] = {"data": d[name], "generated": g[name], "ok": bool(ok)}
    rows["longest_silence_steps"] = {"data": d["longest_silence_steps"], "generated": g["longest_silence_steps"],
                                     "ok": g["longest_silence_steps"] <= steps_per_bar}
    return {"rows": rows, "generated": g, "data": d, "all_ok": all(r["ok"] for r in rows.values())}


def table(result: dict) -> str:
    lines = [f"{'statistic':24s} {'data':>10s} {'generated':>10s}  within bounds"]
    for name, r in result["rows"].items():
        fmt = "{:10d}" if isinstance(r["data"], (int, np.integer)) else "{:10.4f}"
        lines.append(f"{name:24s} {fmt.format(r['data'])} {fmt.format(r['generated'])}  {'yes' if r['ok'] else 'NO'}")
    return "\n".join(lines)
