"""The `live-biaxial` command line: one parser, each command imported only when it runs.

The live commands (play, ports, generate) live beside this file; the training commands (train, eval,
export-onnx, bench, stats) in live_biaxial_training, which the live path never imports (nor torch).
Any LiveBiaxialError becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import LiveBiaxialError
from .options import TEMPERATURE_HELP, add_harmony_args, add_key_args, add_meter_arg


class OneLineParser(argparse.ArgumentParser):
    """A usage mistake is one line (what is wrong, and where the options are listed), exit code 2; a mistyped
    command or choice also says the nearest one."""

    def error(self, message: str):
        import difflib
        import re

        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(2)) or [c.strip() for c in m.group(2).split(",")]
            near = difflib.get_close_matches(m.group(1), choices, n=1)
            message += f"; did you mean {near[0]!r}?" if near else ""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line. The training commands' own options come from the training package, which is
    imported only when one of them is the command given (``argv``): `play` never loads it."""
    command = _command_in(sys.argv[1:] if argv is None else argv)
    parser = OneLineParser(prog="live-biaxial", description="A real-time MIDI improviser (biaxial LSTM).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)

    p = sub.add_parser("train", help="train a model on MIDI files or the JSB chorales (needs the [train] extra)")
    if command == "train":
        _training_args().add_train_args(p)
    p.set_defaults(run=lambda a: _training().run_train(a))

    p = sub.add_parser("play", help="improvise live to a MIDI port, on the internal clock or a DAW's")
    p.add_argument("--port", help="output port: exact name or a unique part of it (default: a new virtual port)")
    p.add_argument("--clock-in", help="follow the MIDI clock (Start/Stop/Continue/SPP) of this input port")
    p.add_argument("--clock", choices=["internal", "link"], default="internal",
                   help="internal (default), or link: join the Ableton Link session on this network (the link extra)")
    p.add_argument("--quantum", type=float,
                   help="with --clock link: beats in a bar of the session, our bars start on its phase 0 (default: "
                        "the meter's bar, 4 in 4/4)")
    p.add_argument("--input", help="listen to this input port: notes to answer, CCs to steer")
    p.add_argument("--no-doubling", action="store_true",
                   help="a model that listens never plays a pitch you are sounding (octaves stay open; it then plays "
                        "fewer tones of your chord: docs/listening.md)")
    p.add_argument("--cc-map", metavar="FILE", help="the CC mapping to load and save (default: the one in your "
                   "config folder, as MIDI learn in the console saves it)")
    p.add_argument("--api", default="auto", choices=["auto", "alsa", "jack", "coremidi", "windows"],
                   help="the MIDI system (auto: the first this platform has that answers; on Linux ALSA, then JACK)")
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--bpm", type=float, default=120.0,
                   help="internal clock tempo, 20..300 (with --clock link: only a session founded by us)")
    p.add_argument("--send-clock", action="store_true", help="also send MIDI clock, Start and Stop")
    p.add_argument("--channel", type=int, default=1, help="MIDI channel 1..16")
    p.add_argument("--split", metavar="BASS,TOP,REST",
                   help="parts to channels: the lowest voice, the highest and the ones between, e.g. 2,3,1")
    p.add_argument("--velocity", type=int, default=80, help="note-on velocity 1..127 (CC 22 moves it live)")
    p.add_argument("--velocity-follows", action="store_true", help="velocity follows the play probability")
    p.add_argument("--anti-silence", type=float, default=1.0, help="0 = off .. 1 = the original's rule against silence")
    p.add_argument("--temperature", type=float, help=TEMPERATURE_HELP)
    p.add_argument("--density", type=float, default=0.0, help="added to every play logit: -4 sparser .. +4 denser")
    p.add_argument("--offset-ms", type=float, default=0.0, help="shift notes against the clock; negative = early")
    p.add_argument("--on-tick", action="store_true",
                   help="with --clock-in: send each 16th when its clock pulse arrives, not at its predicted time")
    p.add_argument("--record", help="save what was played (and the human input) to this MIDI file")
    p.add_argument("--bars", type=int, default=0, help="stop after this many bars (0 = until stopped)")
    add_key_args(p)
    add_meter_arg(p)
    add_harmony_args(p, live=True)
    p.add_argument("--seed", type=int, default=0, help="random seed of the sampling noise")
    p.add_argument("--no-tui", action="store_true", help="headless: a log line per bar")
    p.add_argument("--quiet", action="store_true", help="headless without the per-bar lines")
    p.set_defaults(run=lambda a: _command("play", "run_play")(a))

    p = sub.add_parser("ports", help="list the MIDI input and output ports")
    p.add_argument("--api", default="auto", choices=["auto", "alsa", "jack", "coremidi", "windows"],
                   help="the MIDI system (auto: the first this platform has that answers; on Linux ALSA, then JACK)")
    p.set_defaults(run=lambda a: _command("play", "run_ports")(a))

    p = sub.add_parser("generate", help="compose offline to a MIDI file (the original's gen_adaptive)")
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
    p.set_defaults(run=lambda a: _command("generate", "run_generate")(a))

    p = sub.add_parser("stats", help="does generated music look like the data? silences, density, scales, loops")
    p.add_argument("--data", nargs="+", required=True, help="the data to compare with (as for train)")
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"], help="the data's pieces")
    p.add_argument("--reference", default="train", choices=["train", "valid", "test"],
                   help="the split both are compared with for the pitch-class distance")
    p.add_argument("--pieces", type=int, default=8, help="generated pieces (seeds SEED..SEED+N-1)")
    p.add_argument("--seed", type=int, default=0, help="the first piece's seed")
    p.add_argument("--bars", type=int, default=16, help="length of each generated piece")
    p.add_argument("--anti-silence", type=float, default=1.0, help="0 = off .. 1 = the original's rule against silence")
    p.add_argument("--temperature", type=float, help=TEMPERATURE_HELP)
    p.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    p.set_defaults(run=lambda a: _training_args().run_stats(a))  # numpy only: no torch needed

    p = sub.add_parser("export-onnx", help="export a checkpoint to one ONNX graph per time step, verified")
    p.add_argument("checkpoint", help="a checkpoint file or run folder")
    p.add_argument("--out", help="the .onnx file (default: exported/RUN.onnx)")
    p.add_argument("--temperature", type=float,
                   help="the model's own sampling temperature, 0.1..2, used when a player names none (default 1)")
    p.set_defaults(run=lambda a: _training().run_export(a))

    p = sub.add_parser("bench", help="step latency: onnxruntime vs torch eager vs the matmul floor")
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--steps", type=int, default=1000, help="time steps to time")
    p.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    p.add_argument("--int8", action="store_true", help="also time an int8-quantised copy of the model")
    p.set_defaults(run=lambda a: _training().run_bench(a))

    p = sub.add_parser("eval", help="NLL per step and frame accuracy of a checkpoint on a data split")
    if command == "eval":
        _training_args().add_eval_args(p)
    p.set_defaults(run=lambda a: _training().run_eval(a))
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("live-biaxial")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _command_in(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (its first word that is not an option), or None."""
    return next((a for a in argv if not a.startswith("-")), None)


def _command(module: str, function: str):
    """A runtime command, imported when it runs (live_biaxial.cli.MODULE.FUNCTION)."""
    import importlib

    return getattr(importlib.import_module(f"live_biaxial.cli.{module}"), function)


def _training_args():
    """The training package's command module (argparse and dataclasses only: torch is imported as a command runs)."""
    import importlib

    return importlib.import_module("live_biaxial_training.cli")


def _training():
    """The training package's command module, once the training extra is known to be installed."""
    import importlib

    try:
        for extra in ("onnx", "torch"):  # what train, eval, export-onnx and bench need
            importlib.import_module(extra)
    except ImportError as err:
        raise LiveBiaxialError(f"this command needs the training extra ({err.name} is missing): "
                               "pip install torch==2.13.0 'live-biaxial[train]'") from err
    return _training_args()


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except LiveBiaxialError as err:
        print(f"live-biaxial: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("live-biaxial: interrupted", file=sys.stderr)
        return 130
