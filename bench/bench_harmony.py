"""Does the improviser keep to the harmony, and does it still move? Chord tones beside figures of motion.

Stepped as `generate` steps it (the model's temperature, anti-silence 1, the seed step, a HarmonyFollower), per
case and row. Cases:
  held triads, a bar / a beat   the player holds a triad (six progressions; chords recognised from the notes held)
  key change                    I IV V I in C, then in E, a chord a bar, held
  melodies + chart              three lead-sheet melodies (4/4 and 3/4) with their chord charts (--chords)
  chorale S / B, chart          the test chorales' soprano or bass, with Bach's own beat chords as the chart
  chorale S / B                 the same without a chart (the player's part, then the model's plan)
  solo                          nobody plays, no chart
Rows: each model at harmony 0 and at the default (and --sweep: more strengths), the arpeggiator (the given
chord's tones, one a 16th up and down: all chord tones and no motion) and the data where there is one (Bach's
other voices). Figures (training/measures/listening.py): chord_tones (its note-16ths on tones of the chord given), together
(its and the player's note-16ths on the beat's best triad of both: cases without a chord given), doubles_player,
in_key, steps (struck notes a step from its nearest note before), repeated_bars, onset_bits, notes_per_16th.
    python -m bench.bench_harmony [--model M.onnx] [--baseline OLD.onnx] [--sweep] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.bench_listening import KEY_CHANGE, NAMES, PROGRESSIONS
from bench.provenance import ROOT, provenance
from live_biaxial.model_file import Cell
from live_biaxial.music.chords import ChordChart, ChordTimeline, Chord, parse_chord, step_labels
from live_biaxial.steering.controls import HARMONY_DEFAULT
from live_biaxial.steering.generation import generate, seed_step
import live_biaxial.steering.harmony as harmony_module
from live_biaxial.steering.harmony import PLAN_TEMPERATURE, HarmonyFollower
from live_biaxial_training.measures.listening import (best_triads, chord_masks, doubling_share, notes_per_step, onset_bits,
                                          repeated_bar_share, scale_mask, share_in, share_in_known, step_share)
from live_biaxial.music.representation import LOW_NOTE, N_NOTES
from live_biaxial_training.measures.stats import key_of, pitch_class_histogram
from live_biaxial_training.parts import voices_matrix  # numpy only

JSB = ROOT.parent / "shared" / "data" / "jsb-chorales" / "Jsb16thSeparated.json"
# lead sheets (public domain): (title, key root, minor, meter, chart, melody as (MIDI pitch, 16ths))
MELODIES = (
    ("Ode to Joy (Beethoven, 1824)", 0, False, (16, 4), "C | C G | C | G | C | C G | C | G C",
     [(64, 4), (64, 4), (65, 4), (67, 4), (67, 4), (65, 4), (64, 4), (62, 4), (60, 4), (60, 4), (62, 4), (64, 4),
      (64, 6), (62, 2), (62, 8), (64, 4), (64, 4), (65, 4), (67, 4), (67, 4), (65, 4), (64, 4), (62, 4),
      (60, 4), (60, 4), (62, 4), (64, 4), (62, 6), (60, 2), (60, 8)]),
    ("Twinkle, Twinkle (French, 1761)", 0, False, (16, 4), "C | F C | F C | G C | C F | C G | C F | C G",
     [(60, 4), (60, 4), (67, 4), (67, 4), (69, 4), (69, 4), (67, 8), (65, 4), (65, 4), (64, 4), (64, 4),
      (62, 4), (62, 4), (60, 8), (67, 4), (67, 4), (65, 4), (65, 4), (64, 4), (64, 4), (62, 8),
      (67, 4), (67, 4), (65, 4), (65, 4), (64, 4), (64, 4), (62, 8)]),
    ("Amazing Grace (New Britain, 1829), 3/4", 7, False, (12, 4), "G | G | C | G | G | G | D | D",
     [(67, 8), (71, 2), (67, 2), (71, 8), (69, 4), (67, 8), (64, 4), (62, 8), (62, 4),
      (67, 8), (71, 2), (67, 2), (71, 8), (69, 4), (74, 12), (74, 8), (71, 4)]),
)


def melody_part(notes, bars: int, bar_steps: int) -> np.ndarray:
    """(pitch, 16ths) repeated to fill ``bars`` bars -> the part (T, 78, 2)."""
    T = bars * bar_steps
    part = np.zeros((T, N_NOTES, 2), np.float32)
    t = 0
    while t < T:
        for pitch, length in notes:
            if t >= T:
                break
            part[t : t + length, pitch - LOW_NOTE, 0] = 1
            part[t, pitch - LOW_NOTE, 1] = 1
            t += length
    return part


def held_part(chords: list[str], bars: int, per_beat: bool) -> np.ndarray:
    """Triads held (root position round middle C), a chord a bar or a beat, struck as each starts."""
    part = np.zeros((bars * 16, N_NOTES, 2), np.float32)
    span = 4 if per_beat else 16
    for k in range(bars * 16 // span):
        chord = parse_chord(chords[k % len(chords)])
        base = 55 + (chord.root - 55) % 12
        pitches = [base + i for i in sorted((i - chord.root) % 12 for i in chord.pitch_classes)]
        part[k * span : (k + 1) * span, [p - LOW_NOTE for p in pitches], 0] = 1
        part[k * span, [p - LOW_NOTE for p in pitches], 1] = 1
    return part


def arpeggio(chords: list, steps: int) -> np.ndarray:
    """The baseline: each 16th one tone of the chord given, up and down through it round C4."""
    out = np.zeros((steps, N_NOTES, 2), np.uint8)
    for t in range(steps):
        chord = chords[t]
        if chord is None:
            continue
        tones = sorted(60 + pc for pc in chord.pitch_classes)
        cycle = tones + tones[-2:0:-1]
        p = cycle[t % len(cycle)]
        out[t, p - LOW_NOTE] = 1
    return out


def figures(notes, part, given, scale, bar_steps: int, beat_steps: int) -> dict:
    """given: (T, 12) the chord given's classes (all False: none given)."""
    together = np.maximum(notes, part)
    out = {"chord_tones": share_in_known(notes, given) if given.any() else float("nan"),
           "together": share_in(together, best_triads(together, beat_steps)),
           "doubles_player": doubling_share(notes, part) if part.any() else float("nan"),
           "in_key": share_in(notes, scale) if scale is not None else float("nan"),
           "steps": step_share(notes), "repeated_bars": repeated_bar_share(notes, bar_steps),
           "onset_bits": onset_bits(notes, beat_steps), "notes_per_16th": notes_per_step(notes)}
    return out


def mean(rows: list[dict]) -> dict:
    """The mean of each figure over the rows that have it (None where none has)."""
    out = {}
    for k in rows[0]:
        values = [r[k] for r in rows if r[k] is not None and np.isfinite(r[k])]
        out[k] = float(np.mean(values)) if values else None
    return out


PLAN = {"temperature": PLAN_TEMPERATURE}  # --plan-temperature


def play(cell: Cell, part, meter, chart, strength: float, seed: int) -> tuple[np.ndarray, list]:
    follower = HarmonyFollower(chart, plans=cell.chords, seed=seed, record=True, plan_temperature=PLAN["temperature"])
    notes, _ = generate(cell, cell.state_size, len(part), seed_notes=seed_step(), seed=seed, anti_silence=1.0,
                        temperature=cell.temperature, human=part if part.any() else None, meter=meter,
                        harmony=follower, harmony_strength=strength)
    return notes, [c for c, _ in follower.followed]


def run_case(rows: dict, part, meter, chart, scale, seeds, data=None, arpeggio_row=True) -> dict:
    """rows: name -> (cell, strength). Returns name -> mean figures."""
    out = {}
    bar_steps, beat_steps = meter
    for name, (cell, strength) in rows.items():
        results = []
        for seed in seeds:
            notes, followed = play(cell, part, meter, chart, strength, seed)
            results.append(figures(notes, part, chord_masks(followed) if chart is not None or part.any() else
                                   np.zeros((len(part), 12), bool), scale, bar_steps, beat_steps))
        out[name] = mean(results)
    if chart is not None and arpeggio_row:
        chords = [chart.chord_at(*divmod(t, bar_steps), bar_steps) for t in range(len(part))]
        out["arpeggio"] = figures(arpeggio(chords, len(part)), part, chord_masks(chords), scale, bar_steps, beat_steps)
    if data is not None:
        out["data"] = data
    return out


def chorale_cases(pieces, player: int, rows: dict, seeds) -> tuple[dict, dict]:
    """The test chorales' soprano (0) or bass (3) as the part: with Bach's beat chords as the chart, and without."""
    with_chart, without = [], []
    for k, v in enumerate(pieces):
        v = np.asarray(v, np.int64)
        others = [i for i in range(4) if i != player]
        part, real, everything = voices_matrix(v, [player]), voices_matrix(v, others), voices_matrix(v, range(4))
        T = len(part)
        labels, bass = step_labels(everything, np.arange(T) % 16, np.tile([16, 4], (T, 1)), LOW_NOTE)
        changes = tuple((t, Chord.from_index(labels[t], bass[t]) if labels[t] >= 0 else None)
                        for t in range(T) if t == 0 or labels[t] != labels[t - 1] or bass[t] != bass[t - 1])
        chart = ChordTimeline(changes, T)
        given = chord_masks([chart.chord_at(0, t, T) for t in range(T)])
        tonic, minor = key_of(pitch_class_histogram(everything))
        scale = scale_mask(tonic, minor)
        data = figures(real, part, given, scale, 16, 4)
        with_chart.append(run_case(rows, part, (16, 4), chart, scale, [1000 * k + s for s in seeds], data, False))
        without.append(run_case(rows, part, (16, 4), None, scale, [1000 * k + s for s in seeds],
                                figures(real, part, np.zeros((T, 12), bool), scale, 16, 4), False))
    merge = lambda cases: {name: mean([c[name] for c in cases]) for name in cases[0]}  # noqa: E731
    return merge(with_chart), merge(without)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "exported" / "default.onnx"))
    ap.add_argument("--baseline", help="an earlier model to compare with (e.g. the previous default)")
    ap.add_argument("--strength", type=float, default=HARMONY_DEFAULT, help="the harmony control's strength to measure")
    ap.add_argument("--sweep", action="store_true", help="the model also at harmony 0.25, 0.5, 0.75, 1")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--pieces", type=int, default=12, help="test chorales per chorale case")
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--plan-temperature", type=float, default=PLAN_TEMPERATURE, help="the plan's (default: play's)")
    ap.add_argument("--leap-share", type=float, help="the harmony control's hold on leaps (harmony.LEAP_SHARE)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "harmony.json"))
    args = ap.parse_args()
    PLAN["temperature"] = args.plan_temperature
    if args.leap_share is not None:
        harmony_module.LEAP_SHARE = args.leap_share
    models = {"model": Cell(args.model)} | ({"baseline": Cell(args.baseline)} if args.baseline else {})
    strengths = sorted({0.0, args.strength} | ({0.25, 0.5, 0.75, 1.0} if args.sweep else set()))
    rows = {f"{m} h{s:g}": (cell, s) for m, cell in models.items() for s in (strengths if m == "model" else (0.0, args.strength))}
    seeds = range(args.seeds)
    t0 = time.time()
    result = {**provenance(), "leap_share": harmony_module.LEAP_SHARE, "models": {m: str(c.path) for m, c in models.items()},
              "plan_temperature": args.plan_temperature,
              "temperatures": {m: c.temperature for m, c in models.items()}, "bars": args.bars, "seeds": args.seeds,
              "cases": {}}
    cases = result["cases"]
    for per_beat in (False, True):
        runs = []
        for key, minor, chords in list(PROGRESSIONS.values()):
            part = held_part(chords, args.bars, per_beat)
            runs.append(run_case(rows, part, (16, 4), None, scale_mask(NAMES[key], minor), seeds))
        cases[f"held triads, a chord a {'beat' if per_beat else 'bar'}"] = {
            name: mean([r[name] for r in runs]) for name in runs[0]}
    (k1, c1), (k2, c2) = KEY_CHANGE
    part = np.concatenate([held_part(c1, 8, False), held_part(c2, 8, False)])
    scale = np.concatenate([np.tile(scale_mask(NAMES[k], False), (128, 1)) for k in (k1, k2)])  # (256, 12)
    cases["key change C -> E (held, 8 bars each)"] = run_case(rows, part, (16, 4), None, scale, seeds)
    for title, root, minor, meter, chart_text, notes in MELODIES:
        bars = args.bars
        part = melody_part(notes, bars, meter[0])
        chart = ChordChart.parse(chart_text)
        cases[f"melody + chart: {title}"] = run_case(rows, part, meter, chart, scale_mask(root, minor), seeds)
        cases[f"melody, no chart: {title}"] = run_case(rows, part, meter, None, scale_mask(root, minor), seeds)
    test = json.loads(JSB.read_text())["test"][: args.pieces]
    for voice, name in ((0, "soprano"), (3, "bass")):
        with_chart, without = chorale_cases(test, voice, rows, range(1))
        cases[f"chorale {name} + Bach's chords as chart"] = with_chart
        cases[f"chorale {name}, no chart"] = without
    silent = np.zeros((args.bars * 16, N_NOTES, 2), np.float32)
    cases["solo (nobody plays, no chart)"] = run_case(rows, silent, (16, 4), None, None, range(4))
    result["seconds"] = round(time.time() - t0, 1)
    Path(args.out).write_text(json.dumps(result, indent=1))
    for case, figs in cases.items():
        print(case)
        for name, f in figs.items():
            print(f"  {name:14s} " + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} -" for k, v in f.items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
