"""The `live-biaxial` command line: one parser naming the commands; each command's options are declared
beside the code that runs it, and its module is imported only when it is the command given.

The live commands (play, ports, generate) live beside this file; the training commands (train, eval,
export-onnx, bench, stats) in training/ (live_biaxial_training), which the live path never imports (nor
torch) and which never imports this package: the arrow points one way.
Any LiveBiaxialError becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import LiveBiaxialError


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
    if command == "play":
        _command("play", "add_play_args")(p)
    p.set_defaults(run=lambda a: _command("play", "run_play")(a))

    p = sub.add_parser("ports", help="list the MIDI input and output ports")
    if command == "ports":
        _command("play", "add_ports_args")(p)
    p.set_defaults(run=lambda a: _command("play", "run_ports")(a))

    p = sub.add_parser("generate", help="compose offline to a MIDI file (the original's gen_adaptive)")
    if command == "generate":
        _command("generate", "add_generate_args")(p)
    p.set_defaults(run=lambda a: _command("generate", "run_generate")(a))

    p = sub.add_parser("stats", help="does generated music look like the data? silences, density, scales, loops")
    if command == "stats":
        _training_args().add_stats_args(p)
    p.set_defaults(run=lambda a: _training_args().run_stats(a))  # numpy only: no torch needed

    p = sub.add_parser("export-onnx", help="export a checkpoint to one ONNX graph per time step, verified")
    if command == "export-onnx":
        _training_args().add_export_args(p)
    p.set_defaults(run=lambda a: _training().run_export(a))

    p = sub.add_parser("bench", help="step latency: onnxruntime vs torch eager vs the matmul floor")
    if command == "bench":
        _training_args().add_bench_args(p)
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
