"""`live-biaxial generate`: compose offline to a MIDI file through the same ONNX cell as `play`."""

from __future__ import annotations

from ..errors import LiveBiaxialError
from ..steering.controls import TEMPERATURE_HELP, temperature_or_own
from .options import add_harmony_args, add_key_args, add_meter_arg, harmony_of, key_of_args, meter_of


def add_generate_args(p) -> None:
    p.add_argument("--model", help="an exported .onnx model (default: the shipped exported/default.onnx)")
    p.add_argument("--bars", type=int, default=8, help="how many bars to compose")
    p.add_argument("--bpm", type=float, default=100.0, help="the tempo written into the file")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same piece")
    p.add_argument("--anti-silence", type=float, default=1.0, help="0 = off .. 1 = the original's rule")
    p.add_argument("--temperature", type=float, help=TEMPERATURE_HELP)
    p.add_argument("--velocity", type=int, default=64, help="note-on velocity 1..127")
    p.add_argument("--out", default="generated.mid", help="the MIDI file to write")
    add_key_args(p)
    add_meter_arg(p, from_file=True)
    add_harmony_args(p, live=False)
    p.add_argument("--prime", metavar="FILE.mid", help="go on from this MIDI file: the output is it, then --bars more")
    p.add_argument("--accompany", metavar="PART.mid",
                   help="play along with this part (a melody, a bass line, chords) for its length: the file gets "
                        "the improviser's track first, then the part's")
    p.add_argument("--no-doubling", action="store_true",
                   help="a model that listens never plays a pitch you are sounding (octaves stay open; it then plays "
                        "fewer tones of your chord: docs/listening.md)")
    p.add_argument("--plot", help="also draw the piano roll to this PNG")


def run_generate(args) -> int:
    from pathlib import Path

    import mido
    import numpy as np

    from ..model_file import Cell
    from ..steering.controls import Controls
    from ..steering.generation import generate, seed_step
    from ..music.representation import midi_to_matrix, note_ons, read_midi_file

    if args.bars < 1 or not 20 <= args.bpm <= 300:
        raise LiveBiaxialError("--bars must be at least 1 and --bpm within 20..300")
    if args.accompany and args.prime:
        raise LiveBiaxialError("--accompany and --prime: choose one (the part to play along with, or music to go on from)")
    if args.plot:
        from ..plot import check_plot_path

        check_plot_path(args.plot)  # before any work: matplotlib there, its folder there
    cell = Cell(args.model)
    harmony, strength = harmony_of(args, cell, record=True)
    source = read_midi_file(args.accompany or args.prime) if args.accompany or args.prime else None
    (bar_steps, beat_steps), signature = meter_of(args, source)  # --meter, else the file's, else 4/4
    steps = args.bars * bar_steps
    temperature = temperature_or_own(args.temperature, cell.temperature)
    key = key_of_args(args)
    root, scale, cadence = key or (0, "major", None)
    bias = Controls(key_root=root, scale=scale).play_bias if args.lock else None  # (78,) -inf outside the scale
    prime = midi_to_matrix(source, cell.steps_per_beat)[0] if args.prime else None  # (P, 78, 2), part of the music
    part = None
    if args.accompany:  # (T, 78, 2): the player's part, heard step by step as the model plays
        part, _ = midi_to_matrix(source, cell.steps_per_beat)
        steps = len(part)
    heard = cadence if prime is None else prime  # what the model hears first; the cadence is not written
    notes, _ = generate(cell, cell.state_size, steps, seed_notes=seed_step(), seed=args.seed,
                        anti_silence=args.anti_silence, temperature=temperature, play_bias=bias, prime=heard,
                        human=part, meter=(bar_steps, beat_steps), leave_players_notes=args.no_doubling,
                        harmony=harmony, harmony_strength=strength)
    music = notes if prime is None else np.concatenate([prime, notes])  # (P + steps, 78, 2)
    out = Path(args.out)
    followed = [None] * (0 if prime is None else len(prime)) + [chord for chord, _ in harmony.followed]
    midi = _save(args, out, music, part, followed, cell.steps_per_beat, signature)
    silent = int((notes[:, :, 0].sum(1) == 0).sum())
    after = "" if prime is None else f"{args.prime} ({len(prime) / bar_steps:g} bars) then "
    length = f"{steps / bar_steps:g} bars" if part is None else f"{steps / bar_steps:g} bars along with {args.accompany}"
    in_key = "" if key is None else f", in {args.key.strip()}" + (", locked" if args.lock else "")
    hears = "" if part is None or cell.listens else ", a solo model: it hears the part as its own notes"
    if any(followed):
        chords_from = harmony.describe(player="the part's held chords" if part is not None else None)
        hears += f", harmony {strength:g}, chords from {chords_from}"
    print(f"wrote {out}: {after}{length}, {note_ons(mido.MidiFile(tracks=midi.tracks[:1]))} notes, {silent} silent "
          f"16ths (model {cell.path.name}, seed {args.seed}, temperature {temperature:g}{in_key}{hears})")
    if args.plot:
        from ..plot import piano_roll_png

        piano_roll_png(music, args.plot, cell.steps_per_beat, title=f"{cell.path.name}, seed {args.seed}{in_key}",
                       bar_steps=bar_steps, part=part)
        print(f"wrote {args.plot}")
    return 0


def _save(args, out, music, part, followed: list, steps_per_beat: int, signature):
    """The MIDI file: the improviser's track (music (T, 78, 2)), the part it played along with on the next
    channel, and the chords it followed as marker events (``--chords-from`` reads them back)."""
    from pathlib import Path

    import mido

    from ..music.chords import chord_track
    from ..music.representation import matrix_to_midi

    write = dict(bpm=args.bpm, steps_per_beat=steps_per_beat, time_signature=signature)
    midi = matrix_to_midi(music, velocity=args.velocity, **write)
    if part is not None:  # the improviser's track first, then the part's (on the next channel)
        midi.tracks[0].insert(0, mido.MetaMessage("track_name", name="live-biaxial", time=0))
        track = matrix_to_midi(part, velocity=args.velocity, channel=1, **write).tracks[0]
        track.insert(0, mido.MetaMessage("track_name", name=Path(args.accompany).stem, time=0))
        midi.tracks.append(track)
    if any(followed):
        midi.tracks.append(chord_track(followed, steps_per_beat, midi.ticks_per_beat))
    try:
        midi.save(out)
    except OSError as err:
        raise LiveBiaxialError(f"{out}: cannot write ({err.strerror})") from err
    return midi
