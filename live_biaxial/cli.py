"""The `live-biaxial` command. Subcommands import what they need when they run, so that the
live path never loads torch; any LiveBiaxialError becomes one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import sys

from .errors import LiveBiaxialError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="live-biaxial", description="A real-time MIDI improviser (biaxial LSTM).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model on MIDI files or the JSB chorales (needs the [train] extra)")
    _with_training(p, "add_train_args")
    p.set_defaults(run=lambda a: _training().run_train(a))

    p = sub.add_parser("eval", help="NLL per step and frame accuracy of a checkpoint on a data split")
    _with_training(p, "add_eval_args")
    p.set_defaults(run=lambda a: _training().run_eval(a))
    return parser


def _training():
    try:
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
