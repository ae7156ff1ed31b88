"""Every user mistake gives one clear line: no traceback, nothing lost."""

import os
import sys

import pytest

from live_biaxial.errors import BadMidiFile, DataError
from live_biaxial.music.representation import matrix_to_midi, midi_to_matrix, normalize, read_midi_file
from tests.conftest import run_cli
from tests.midi_helpers import midi_file, off, on

import numpy as np


def good_midi(path, steps=160):
    m = np.zeros((steps, 78, 2), np.uint8)
    m[:, 36 + (np.arange(steps) // 8) % 5, 0] = 1
    matrix_to_midi(normalize(m)).save(path)
    return path


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "text.mid").write_text("this is not a MIDI file at all\n")
    (tmp_path / "empty.mid").write_bytes(b"")
    raw = (tmp_path / "good.mid")
    good_midi(raw)
    (tmp_path / "truncated.mid").write_bytes(raw.read_bytes()[:60])
    midi_file([(0, on(5)), (480, off(5))]).save(tmp_path / "no_notes.mid")  # below the window
    return tmp_path


@pytest.mark.parametrize("name,reason", [
    ("text.mid", "not a valid MIDI file"),
    ("empty.mid", "empty file"),
    ("truncated.mid", "truncated"),
    ("no_notes.mid", "no notes in the MIDI 24..101 window"),
    ("missing.mid", "no such file"),
])
def test_each_bad_file_is_one_clear_error(bad_files, name, reason):
    with pytest.raises(BadMidiFile) as info:
        midi_to_matrix(bad_files / name)
    msg = str(info.value)
    assert "\n" not in msg and name in msg and reason in msg


def test_folder_load_skips_and_counts_bad_files(bad_files):
    from live_biaxial_training.data import load_data

    lines = []
    data = load_data([str(bad_files)], min_steps=16, log=lines.append)
    assert sum(len(p) for p in data.splits.values()) == 1
    assert len(data.skipped) == 4 and data.summary()["skipped"] == 4
    assert all(line.startswith("skipped ") and "\n" not in line for line in lines)
    assert {os.path.basename(s.split(":")[0]) for s in data.skipped} == {"text.mid", "empty.mid", "truncated.mid", "no_notes.mid"}


def test_second_load_comes_from_the_cache(bad_files, monkeypatch):
    from live_biaxial_training import data as data_mod

    first = data_mod.load_data([str(bad_files)], min_steps=16, log=lambda s: None)

    def boom(*a, **k):
        raise AssertionError("parsed again instead of using the cache")

    monkeypatch.setattr(data_mod, "midi_to_matrix", boom)
    second = data_mod.load_data([str(bad_files)], min_steps=16, log=lambda s: None)
    assert [p.name for p in second.splits["train"] + second.splits["valid"]] == \
        [p.name for p in first.splits["train"] + first.splits["valid"]]
    assert len(second.skipped) == len(first.skipped)


def test_no_usable_piece_is_an_error(tmp_path):
    from live_biaxial_training.data import load_data

    (tmp_path / "a.mid").write_text("nope")
    with pytest.raises(DataError, match="no usable piece"):
        load_data([str(tmp_path)], log=lambda s: None)


def test_cli_reports_bad_data_in_one_line_and_exits_nonzero(tmp_path):
    (tmp_path / "a.mid").write_text("nope")
    for args in ([str(tmp_path)], [str(tmp_path / "nowhere")], [str(tmp_path / "empty_dir")]):
        (tmp_path / "empty_dir").mkdir(exist_ok=True)
        r = run_cli("train", *args, "--out", tmp_path / "run", "--batches", "1")
        assert r.returncode == 2, r.stderr
        err = [line for line in r.stderr.splitlines() if line.startswith("live-biaxial: error:")]
        assert len(err) == 1 and "Traceback" not in r.stderr


def test_cli_eval_on_a_damaged_checkpoint_says_so(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x00garbage" * 10)
    r = run_cli("eval", bad, "--data", tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "not a live-biaxial checkpoint" in r.stderr


def test_read_midi_file_on_a_folder(tmp_path):
    with pytest.raises(BadMidiFile, match="folder"):
        read_midi_file(tmp_path)


@pytest.mark.skipif(os.path.exists("/dev/snd/seq") or not sys.platform.startswith("linux"),
                    reason="needs a Linux machine without ALSA's sequencer")
def test_no_midi_system_is_one_line_without_alsas_own():
    from pathlib import Path

    if Path("/dev/snd/seq").exists():
        pytest.skip("this machine has ALSA's sequencer: there is a MIDI system")
    # a JACK server name nobody runs, and no server started for it: whatever JACK servers this machine runs
    # (a musician's, the suite's own), this command sees none
    done = run_cli("ports", env={"JACK_DEFAULT_SERVER": f"lb-none-{os.getpid()}", "JACK_NO_START_SERVER": "1"})
    assert done.returncode == 2
    assert done.stderr.startswith("live-biaxial: error: no MIDI system available"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # not ALSA's "ALSA lib seq_hw.c:..." first


@pytest.mark.parametrize("command", [["train", "data.json", "--out", "runs/x"], ["eval", "m.pt", "--data", "d.json"],
                                     ["export-onnx", "m.pt"], ["bench"]])
def test_training_commands_without_torch_say_what_to_install(tmp_path, command):
    """A plain `pip install live-biaxial` has no torch: its training commands answer in one line, not a traceback."""
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    done = run_cli(*command, env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "live-biaxial: error: this command needs the training extra (torch is missing): "
        "pip install torch==2.13.0 'live-biaxial[train]'"], done.stderr


def test_pieces_shorter_than_a_segment_are_skipped_with_one_line(bad_files):
    from live_biaxial.errors import DataError
    from live_biaxial_training.data import load_data

    lines = []
    with pytest.raises(DataError, match="no usable piece"):  # every piece is shorter than that
        load_data([str(bad_files)], min_steps=10_000, log=lines.append)
    assert [line for line in lines if "shorter than" in line] == [
        "skipped 1 piece shorter than 10000 steps (a training segment): 1 train"]


def test_two_runs_that_parse_the_same_data_together_both_load_it(bad_files, tmp_path, monkeypatch):
    """Training runs started side by side (seeds of one benchmark) once raced on one temp file of the cache."""
    import threading

    from live_biaxial_training import data as data_mod

    monkeypatch.setenv("LIVE_BIAXIAL_CACHE", str(tmp_path / "fresh-cache"))
    barrier, results, errors = threading.Barrier(4), [], []
    real_savez = data_mod.np.savez_compressed

    def savez_together(*args, **kwargs):  # every loader writes at the same moment
        real_savez(*args, **kwargs)
        barrier.wait(timeout=10)

    monkeypatch.setattr(data_mod.np, "savez_compressed", savez_together)

    def load():
        try:
            results.append(data_mod.load_data([str(bad_files)], min_steps=16, log=lambda s: None))
        except Exception as err:  # noqa: BLE001 - the race surfaced as FileNotFoundError
            errors.append(err)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(results) == 4
    assert all(sum(len(p) for p in r.splits.values()) == 1 for r in results)


@pytest.mark.parametrize("args, words", [
    (["plya"], ["invalid choice: 'plya'", "did you mean 'play'?"]),
    (["genrate", "--bars", "2"], ["did you mean 'generate'?"]),
    (["play", "--clock", "bogus"], ["invalid choice: 'bogus'", "see live-biaxial play --help"]),
    (["generate", "--bars", "x"], ["--bars: invalid int value: 'x'"]),
    (["play", "--split", "1,1,1"], ["three different MIDI channels"]),
])
def test_usage_mistakes_are_one_line_with_the_nearest_command(args, words):
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), r.stderr


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("live-biaxial ") and r.stdout.split()[1][0].isdigit()
