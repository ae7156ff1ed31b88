"""The layout the design promises: the live path never loads the training code or torch."""

import re
import subprocess
import sys

from tests.conftest import ROOT

LIVE_MODULES = ("live_biaxial.cli", "live_biaxial.cli.play", "live_biaxial.cli.generate", "live_biaxial.engine",
                "live_biaxial.clock", "live_biaxial.ports", "live_biaxial.console", "live_biaxial.model_file",
                "live_biaxial.music.representation", "live_biaxial.steering.generation", "live_biaxial.steering.controls",
                "live_biaxial.steering.harmony", "live_biaxial.steering.cc_map", "live_biaxial.plot")


def test_the_top_level_is_the_design_s():
    """live_biaxial/, training/, exported/, tests/, pyproject.toml, README.md; the training code is imported
    from training/ as live_biaxial_training."""
    import live_biaxial_training

    for name in ("live_biaxial", "training", "exported", "tests", "pyproject.toml", "README.md"):
        assert (ROOT / name).exists(), name
    assert not (ROOT / "live_biaxial_training").exists()
    assert live_biaxial_training.__file__.startswith(str(ROOT / "training"))


def test_no_module_of_the_instrument_imports_torch():
    """live_biaxial/ runs on onnxruntime alone; torch lives in training/ only."""
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "live_biaxial").rglob("*.py")
            if re.search(r"^\s*(import torch|from torch)", p.read_text(), re.M)]
    assert not hits, hits


def test_the_live_path_never_imports_the_training_code_or_torch():
    code = ("import importlib, sys\n"
            f"for name in {LIVE_MODULES!r}: importlib.import_module(name)\n"
            "from live_biaxial.cli import build_parser\n"
            "for argv in (['play'], ['ports'], ['generate']): build_parser(argv).parse_args(argv)\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith(('live_biaxial_training', 'onnx.'))))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_the_training_commands_parse_their_own_options():
    from live_biaxial.cli import build_parser

    args = build_parser(["train", "x.json"]).parse_args(["train", "x.json", "--batches", "5"])
    assert args.batches == 5 and args.data == ["x.json"]


def test_the_training_code_never_imports_the_command_line_back():
    """live_biaxial.cli dispatches to training/; training/ takes what it shares from the runtime's lower rooms
    (music/, model_file, errors), never from the command line that calls it."""
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "training").rglob("*.py")
            if re.search(r"live_biaxial\.cli|from live_biaxial import cli", p.read_text())]
    assert not hits, hits


def test_each_command_declares_its_options_beside_its_code():
    from live_biaxial.cli import build_parser

    for argv, option in ((["play"], "--clock-in"), (["generate"], "--accompany"), (["ports"], "--api"),
                         (["stats", "--data", "x"], "--reference"), (["export-onnx", "x.pt"], "--temperature"),
                         (["bench"], "--int8")):
        p = build_parser(argv)
        sub = p._subparsers._group_actions[0].choices[argv[0]]
        assert option in sub._option_string_actions, (argv, option)


# the runtime's rooms, lowest first: a module imports only from rooms below its own
ROOMS = ("errors", "music", "steering", "model_file", "clock", "ports", "plot", "link_clock", "engine", "console",
         "cli", "__main__")


def _rooms_imported(path):
    """The rooms of live_biaxial a module imports from (relative imports and absolute ones)."""
    rel = path.relative_to(ROOT / "live_biaxial").with_suffix("")
    package = list(rel.parts[:-1])
    found = set()
    for m in re.finditer(r"^\s*from (\.+)(\w*)[\w.]* import (\w+)", path.read_text(), re.M):
        base = package[: len(package) - (len(m.group(1)) - 1)]
        found.add((base + [m.group(2) or m.group(3)])[0])
    found |= set(re.findall(r"^\s*(?:from|import) live_biaxial\.(\w+)", path.read_text(), re.M))
    return found - {rel.parts[0]}


def test_every_import_points_down_the_rooms():
    """music/ (the note format) under steering/ (controls, the chord followed, generation) under the engine and
    the commands: no arrow back up."""
    upward = []
    for path in (ROOT / "live_biaxial").rglob("*.py"):
        own = path.relative_to(ROOT / "live_biaxial").with_suffix("").parts[0]
        own = "__main__" if own == "__init__" else own
        for room in _rooms_imported(path):
            if room in ROOMS and ROOMS.index(room) >= ROOMS.index(own):
                upward.append(f"{path.relative_to(ROOT)} -> {room}")
    assert not upward, upward
