"""What the README promises about the command line holds."""

import argparse

from tests.conftest import ROOT

COMMANDS = ("play", "ports", "generate", "train", "export-onnx", "eval", "stats", "bench")


def test_ci_runs_exactly_the_readme_s_test_command():
    readme = (ROOT / "README.md").read_text().splitlines()
    test_command = readme[readme.index(next(line for line in readme if line.startswith("# 2. the tests"))) + 1]
    assert test_command.strip() in (ROOT / ".ci" / "run").read_text().splitlines()


def test_every_option_of_every_command_has_a_help_line():
    from live_biaxial.cli import build_parser

    missing = []
    for command in COMMANDS:
        parser = build_parser([command])
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
        missing += [f"{command} {a.option_strings or a.dest}" for a in sub._actions
                    if not isinstance(a, argparse._HelpAction) and not a.help]
        assert "--help" in sub.format_help()  # and the help renders (a stray % in a help line would not)
    assert not missing, f"options without a help line: {missing}"
