"""The `live-biaxial` command. Subcommands import what they need when they run, so that the
live path never loads torch; any LiveBiaxialError becomes one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import sys

from .errors import LiveBiaxialError

TEMPERATURE_HELP = "sampling temperature, < 1: safer notes, > 1: wilder (default: the model's own, else 1)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="live-biaxial", description="A real-time MIDI improviser (biaxial LSTM).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model on MIDI files or the JSB chorales (needs the [train] extra)")
    _with_training(p, "add_train_args")
    p.set_defaults(run=lambda a: _training().run_train(a))

    p = sub.add_parser("play", help="improvise live to a MIDI port, on the internal clock or a DAW's")
    p.add_argument("--port", help="output port: exact name or a unique part of it (default: a new virtual port)")
    p.add_argument("--clock-in", help="follow the MIDI clock (Start/Stop/Continue/SPP) of this input port")
    p.add_argument("--input", help="listen to this input port: notes to answer, CCs to steer")
    p.add_argument("--api", default="auto", choices=["auto", "alsa", "jack", "coremidi", "windows"])
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--bpm", type=float, default=120.0, help="internal clock tempo, 20..300")
    p.add_argument("--send-clock", action="store_true", help="also send MIDI clock, Start and Stop")
    p.add_argument("--channel", type=int, default=1, help="MIDI channel 1..16")
    p.add_argument("--velocity", type=int, default=80)
    p.add_argument("--velocity-follows", action="store_true", help="velocity follows the play probability")
    p.add_argument("--anti-silence", type=float, default=1.0)
    p.add_argument("--temperature", type=float, help=TEMPERATURE_HELP)
    p.add_argument("--density", type=float, default=0.0, help="added to every play logit: -4 sparser .. +4 denser")
    p.add_argument("--offset-ms", type=float, default=0.0, help="shift notes against the clock; negative = early")
    p.add_argument("--on-tick", action="store_true",
                   help="with --clock-in: send each 16th when its clock pulse arrives, not at its predicted time")
    p.add_argument("--record", help="save what was played (and the human input) to this MIDI file")
    p.add_argument("--bars", type=int, default=0, help="stop after this many bars (0 = until stopped)")
    _add_key_args(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-tui", action="store_true", help="headless: a log line per bar")
    p.add_argument("--quiet", action="store_true", help="headless without the per-bar lines")
    p.set_defaults(run=lambda a: __import__("live_biaxial.play", fromlist=["run_play"]).run_play(a))

    p = sub.add_parser("ports", help="list the MIDI input and output ports")
    p.add_argument("--api", default="auto", choices=["auto", "alsa", "jack", "coremidi", "windows"])
    p.set_defaults(run=lambda a: __import__("live_biaxial.play", fromlist=["run_ports"]).run_ports(a))

    p = sub.add_parser("generate", help="compose offline to a MIDI file (the original's gen_adaptive)")
    p.add_argument("--model", help="an exported .onnx model (default: the shipped exported/default.onnx)")
    p.add_argument("--bars", type=int, default=8)
    p.add_argument("--bpm", type=float, default=100.0)
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same piece")
    p.add_argument("--anti-silence", type=float, default=1.0, help="0 = off .. 1 = the original's rule")
    p.add_argument("--temperature", type=float, help=TEMPERATURE_HELP)
    p.add_argument("--velocity", type=int, default=64)
    p.add_argument("--out", default="generated.mid")
    _add_key_args(p)
    p.add_argument("--prime", metavar="FILE.mid", help="go on from this MIDI file: the output is it, then --bars more")
    p.add_argument("--plot", help="also draw the piano roll to this PNG")
    p.set_defaults(run=run_generate)

    p = sub.add_parser("stats", help="does generated music look like the data? silences, density, scales, loops")
    p.add_argument("--data", nargs="+", required=True, help="the data to compare with (as for train)")
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"], help="the data's pieces")
    p.add_argument("--reference", default="train", choices=["train", "valid", "test"],
                   help="the split both are compared with for the pitch-class distance")
    p.add_argument("--pieces", type=int, default=8, help="generated pieces (seeds SEED..SEED+N-1)")
    p.add_argument("--seed", type=int, default=0, help="the first piece's seed")
    p.add_argument("--bars", type=int, default=16, help="length of each generated piece")
    p.add_argument("--anti-silence", type=float, default=1.0)
    p.add_argument("--temperature", type=float, help=TEMPERATURE_HELP)
    p.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    p.set_defaults(run=run_stats)

    p = sub.add_parser("export-onnx", help="export a checkpoint to one ONNX graph per time step, verified")
    p.add_argument("checkpoint", help="a checkpoint file or run folder")
    p.add_argument("--out", help="the .onnx file (default: exported/RUN.onnx)")
    p.add_argument("--temperature", type=float,
                   help="the model's own sampling temperature, 0.1..2, used when a player names none (default 1)")
    p.set_defaults(run=lambda a: _training().run_export(a))

    p = sub.add_parser("bench", help="step latency: onnxruntime vs torch eager vs the matmul floor")
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    p.add_argument("--int8", action="store_true", help="also time an int8-quantised copy of the model")
    p.set_defaults(run=lambda a: _training().run_bench(a))

    p = sub.add_parser("eval", help="NLL per step and frame accuracy of a checkpoint on a data split")
    _with_training(p, "add_eval_args")
    p.set_defaults(run=lambda a: _training().run_eval(a))
    return parser


def temperature_of(args, cell) -> float:
    """--temperature if given, else the model's own (its metadata; 1 for models that name none)."""
    from .controls import TEMPERATURE_RANGE

    if args.temperature is None:
        return cell.temperature
    low, high = TEMPERATURE_RANGE
    if not low <= args.temperature <= high:
        raise LiveBiaxialError(f"--temperature {args.temperature:g}: choose one within {low:g}..{high:g} (1 = plain sampling)")
    return args.temperature


def _add_key_args(p) -> None:
    p.add_argument("--key", help="start in this key ('D minor', 'Bb'): the model first hears a cadence in it, I IV V I")
    p.add_argument("--lock", action="store_true", help="with --key: only notes of its scale play")


def key_of_args(args):
    """--key as (root, scale, the cadence (16, 78, 2) the model hears first), or None; --lock needs --key."""
    from .controls import MINOR_SCALES, parse_key
    from .generation import key_prime

    if args.key is None:
        if args.lock:
            raise LiveBiaxialError("--lock needs --key (the key whose scale it keeps to, e.g. --key 'D minor')")
        return None
    root, scale = parse_key(args.key)
    return root, scale, key_prime(root, scale in MINOR_SCALES)


def run_generate(args) -> int:
    from pathlib import Path

    import numpy as np

    from .controls import Controls
    from .generation import generate, seed_step
    from .model_file import Cell
    from .representation import matrix_to_midi, midi_to_matrix

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
    try:
        matrix_to_midi(music, bpm=args.bpm, steps_per_beat=cell.steps_per_beat, velocity=args.velocity).save(out)
    except OSError as err:
        raise LiveBiaxialError(f"{out}: cannot write ({err.strerror})") from err
    silent = int((notes[:, :, 0].sum(1) == 0).sum())
    after = "" if prime is None else f"{args.prime} ({len(prime) / (4 * cell.steps_per_beat):g} bars) then "
    in_key = "" if key is None else f", in {args.key.strip()}" + (", locked" if args.lock else "")
    print(f"wrote {out}: {after}{args.bars} bars, {int(notes[..., 1].sum())} notes struck, {silent} silent 16ths "
          f"(model {cell.path.name}, seed {args.seed}, temperature {temperature:g}{in_key})")
    if args.plot:
        from .plot import piano_roll_png

        piano_roll_png(music, args.plot, cell.steps_per_beat, title=f"{cell.path.name}, seed {args.seed}{in_key}")
        print(f"wrote {args.plot}")
    return 0


def run_stats(args) -> int:
    import json
    from pathlib import Path

    from training.data import load_data  # numpy only: no torch

    from .generation import generate, seed_step
    from .model_file import Cell
    from .stats import compare, table

    if args.pieces < 1 or args.bars < 1:
        raise LiveBiaxialError("--pieces and --bars must be at least 1")
    cell = Cell(args.model)
    data = load_data(args.data, steps_per_beat=cell.steps_per_beat, min_steps=1, log=lambda s: None)
    pieces = [p.matrix for p in data.splits[args.split]]
    reference = [p.matrix for p in data.splits[args.reference]]
    if not pieces or not reference:
        raise LiveBiaxialError(f"the {args.split} or {args.reference} split of {', '.join(args.data)} is empty")
    steps_per_bar = 4 * cell.steps_per_beat
    temperature = temperature_of(args, cell)
    seeds = range(args.seed, args.seed + args.pieces)
    generated = [generate(cell, cell.state_size, args.bars * steps_per_bar, seed_notes=seed_step(), seed=s,
                          anti_silence=args.anti_silence, temperature=temperature)[0] for s in seeds]
    result = compare(generated, pieces, reference, steps_per_bar)
    result.update(model=str(cell.path), sources=args.data, split=args.split, reference=args.reference,
                  anti_silence=args.anti_silence, temperature=temperature, first_seed=args.seed)
    print(f"{cell.path.name}: {args.pieces} pieces of {args.bars} bars (seeds {seeds.start}..{seeds.stop - 1}, "
          f"anti-silence {args.anti_silence:g}, temperature {temperature:g}) against {len(pieces)} {args.split} pieces")
    print(table(result))
    print("every statistic within bounds" if result["all_ok"] else "some statistics are out of bounds (NO above)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2, default=float) + "\n")
    return 0


def _training():
    """training.cli, once the training extra is known to be there (it imports torch only when a command runs)."""
    import importlib

    try:
        for extra in ("onnx", "torch"):  # what train, eval, export-onnx and bench need
            importlib.import_module(extra)
        from training import cli
    except ImportError as err:
        raise LiveBiaxialError(f"this command needs the training extra ({err.name} is missing): "
                               "pip install torch==2.13.0 'live-biaxial[train]'") from err
    return cli


def _with_training(p, adder: str) -> None:
    """Add a training subcommand's arguments without importing torch (training.cli imports it lazily)."""
    import importlib

    getattr(importlib.import_module("training.cli"), adder)(p)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except LiveBiaxialError as err:
        print(f"live-biaxial: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("live-biaxial: interrupted", file=sys.stderr)
        return 130
