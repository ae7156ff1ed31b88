"""generate's files and pictures: one meter rule for every command, a plot that draws the part it played along
with in the part's meter, and a plot that cannot be made is one line before any work."""

import subprocess
import sys

import mido
import numpy as np
import pytest

from tests.conftest import ROOT, run_cli
from tests.test_prime import one_voice


def signatures(path):
    return [(m.numerator, m.denominator) for t in mido.MidiFile(path).tracks for m in t if m.type == "time_signature"]


@pytest.mark.parametrize("option, given, written", [
    ("--prime", None, (3, 4)), ("--accompany", None, (3, 4)),
    ("--prime", "4/4", (4, 4)), ("--accompany", "4/4", (4, 4)), ("--accompany", "6/8", (6, 8)),
])
def test_one_meter_rule_for_prime_and_accompany(option, given, written, tmp_path):
    waltz = one_voice(tmp_path / "waltz.mid", [55, 59, 62] * 8, 1, 3)
    out = tmp_path / "out.mid"
    r = run_cli("generate", option, waltz, "--bars", "2", "--out", out, *(["--meter", given] if given else []))
    assert r.returncode == 0, r.stderr
    assert set(signatures(out)) == {written}  # the file's meter unless --meter says otherwise, both ways


def test_the_plot_of_an_accompaniment_draws_the_part_in_its_meter(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    waltz = one_voice(tmp_path / "waltz.mid", [55, 59, 62] * 15, 1, 3)  # 15 bars of 3/4
    r = run_cli("generate", "--accompany", waltz, "--out", tmp_path / "w.mid", "--plot", tmp_path / "w.png")
    assert r.returncode == 0, r.stderr
    image = np.asarray(Image.open(tmp_path / "w.png").convert("RGB")).astype(int)
    assert image.shape[1] == 750  # 180 16ths: 7.5 inches at 100 dpi (a 4/4 reading would be the same length)
    orange = (image[..., 0] > 200) & (image[..., 1] > 60) & (image[..., 1] < 170) & (image[..., 2] < 90)
    assert orange.sum() > 500  # the part is drawn
    from live_biaxial.plot import piano_roll_figure

    notes = np.zeros((180, 78, 2), np.uint8)
    fig = piano_roll_figure(notes, 4, bar_steps=12, part=notes)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[-1] == "16" and len(labels) == 16  # 15 bars of 12 16ths (4/4 would say 12.25 bars)


def test_a_plot_into_a_missing_folder_is_one_line_before_any_work(tmp_path):
    out = tmp_path / "x.mid"
    r = run_cli("generate", "--out", out, "--plot", tmp_path / "no" / "such" / "x.png")
    assert r.returncode == 2 and "no folder" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()


def test_a_plot_without_matplotlib_is_one_line(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; from live_biaxial.cli import main; "
            f"sys.exit(main(['generate', '--bars', '1', '--out', r'{tmp_path / 'x.mid'}', '--plot', r'{tmp_path / 'x.png'}']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "pip install 'live-biaxial[plot]'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
