"""`live-biaxial generate`: compose offline to a MIDI file through the same ONNX cell as `play`."""

from __future__ import annotations

from ..errors import LiveBiaxialError
from .options import key_of_args, temperature_of


def run_generate(args) -> int:
    from pathlib import Path

    import numpy as np

    from ..model_file import Cell
    from ..music.controls import Controls
    from ..music.generation import generate, seed_step
    from ..music.representation import matrix_to_midi, midi_to_matrix, note_ons

    if args.bars < 1 or not 20 <= args.bpm <= 300:
        raise LiveBiaxialError("--bars must be at least 1 and --bpm within 20..300")
    cell = Cell(args.model)
    steps = args.bars * 4 * cell.steps_per_beat
    temperature = temperature_of(args, cell)
    key = key_of_args(args)
    root, scale, cadence = key or (0, "major", None)
    bias = Controls(key_root=root, scale=scale).play_bias if args.lock else None  # (78,) -inf outside the scale
    prime = midi_to_matrix(args.prime, cell.steps_per_beat)[0] if args.prime else None  # (P, 78, 2), part of the music
    heard = cadence if prime is None else prime  # what the model hears first; the cadence is not written
    notes, _ = generate(cell, cell.state_size, steps, seed_notes=seed_step(), seed=args.seed,
                        anti_silence=args.anti_silence, temperature=temperature, play_bias=bias, prime=heard)
    music = notes if prime is None else np.concatenate([prime, notes])  # (P + steps, 78, 2)
    out = Path(args.out)
    midi = matrix_to_midi(music, bpm=args.bpm, steps_per_beat=cell.steps_per_beat, velocity=args.velocity)
    try:
        midi.save(out)
    except OSError as err:
        raise LiveBiaxialError(f"{out}: cannot write ({err.strerror})") from err
    silent = int((notes[:, :, 0].sum(1) == 0).sum())
    after = "" if prime is None else f"{args.prime} ({len(prime) / (4 * cell.steps_per_beat):g} bars) then "
    in_key = "" if key is None else f", in {args.key.strip()}" + (", locked" if args.lock else "")
    print(f"wrote {out}: {after}{args.bars} bars, {note_ons(midi)} notes, {silent} silent 16ths "
          f"(model {cell.path.name}, seed {args.seed}, temperature {temperature:g}{in_key})")
    if args.plot:
        from ..plot import piano_roll_png

        piano_roll_png(music, args.plot, cell.steps_per_beat, title=f"{cell.path.name}, seed {args.seed}{in_key}")
        print(f"wrote {args.plot}")
    return 0
