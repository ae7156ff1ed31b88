"""`live-biaxial stats`: the statistics on hand-made pieces, and the command on real files."""

import json

import numpy as np
import pytest

from live_biaxial.music.representation import pitches_to_matrix
from live_biaxial_training.measures.stats import (compare, histogram_distance, key_clarity, key_drift, key_normalised_histogram, minor_share,
                                mode_histograms, music_stats, pitch_class_histogram, to_c)
from tests.conftest import run_cli

C_MAJOR = [60, 64, 67]
D_MAJOR = [62, 66, 69]
CLUSTER = [60, 61, 62]  # C, C#, D: fits no major or minor scale


def piece(*steps):
    return pitches_to_matrix([list(s) for s in steps])


def test_silences_density_scale_fit_and_loops():
    bar_a = [C_MAJOR] * 8 + [[]] * 3 + [CLUSTER] * 5  # 16 steps: 3 silent, 5 outside every scale
    bar_b = [D_MAJOR] * 16
    s = music_stats([piece(*bar_a, *bar_a, *bar_b)])
    assert s["steps"] == 48
    assert s["silent_share"] == pytest.approx(6 / 48)
    assert s["longest_silence_steps"] == 3
    assert s["notes_per_step"] == pytest.approx(3 * 42 / 48)
    assert s["scale_fit_share"] == pytest.approx((48 - 6 - 10) / 42)
    assert s["repeated_bar_share"] == pytest.approx(1 / 2)  # bar 2 repeats bar 1, bar 3 does not


def test_the_longest_silence_spans_nothing_but_silence():
    s = music_stats([piece(C_MAJOR, [], [], C_MAJOR, [], [], [], [], C_MAJOR)])
    assert s["longest_silence_steps"] == 4


def test_pitch_classes_are_compared_in_one_key():
    c = pitch_class_histogram(piece(*[C_MAJOR, [65, 69, 72], [67, 71, 74]] * 4))  # I IV V in C
    d = pitch_class_histogram(piece(*[D_MAJOR, [67, 71, 74], [69, 73, 76]] * 4))  # the same in D
    assert histogram_distance(c, d) > 0.4  # 4 of 9 notes differ
    assert np.allclose(to_c(c), to_c(d))
    assert histogram_distance(key_normalised_histogram([piece(C_MAJOR)]), key_normalised_histogram([piece(D_MAJOR)])) < 1e-9


def test_compare_flags_what_is_off():
    data = [piece(*[C_MAJOR] * 32) for _ in range(4)]
    same = compare(data, data, data)
    assert same["all_ok"]
    sparse = [piece(*([C_MAJOR] + [[]] * 20) * 2)]
    off = compare(sparse, data, data)
    assert not off["rows"]["silent_share"]["ok"] and not off["rows"]["longest_silence_steps"]["ok"]
    assert not off["all_ok"]



def test_stats_command_on_a_chorale_file(tiny_model, tmp_path):
    rng = np.random.default_rng(0)
    chorale = lambda: [sorted(rng.choice([60, 62, 64, 65, 67, 69, 71], 3, replace=False).tolist()) for _ in range(64)]  # noqa: E731
    src = tmp_path / "mini-16th.json"
    src.write_text(json.dumps({"train": [chorale() for _ in range(3)], "valid": [chorale() for _ in range(2)]}))
    out = tmp_path / "stats.json"
    r = run_cli("stats", "--model", tiny_model[1], "--data", src, "--pieces", "2", "--bars", "2", "--json", out)
    assert r.returncode == 0, r.stderr
    assert "notes_per_step" in r.stdout and "against 2 valid pieces" in r.stdout
    result = json.loads(out.read_text())
    assert result["data"]["notes_per_step"] == pytest.approx(3.0)  # three notes in every data step
    assert result["data"]["scale_fit_share"] == pytest.approx(1.0)
    assert result["generated"]["steps"] == 2 * 2 * 16
    assert set(result["rows"]) >= {"silent_share", "longest_silence_steps", "pitch_class_distance"}


def test_stats_command_runs_without_torch(tiny_model, tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    src = tmp_path / "mini-16th.json"
    src.write_text(json.dumps({"train": [[C_MAJOR] * 40] * 2, "valid": [[D_MAJOR] * 40]}))
    code = ("import sys; from live_biaxial.cli import main; "
            f"rc = main(['stats', '--model', r'{tiny_model[1]}', '--data', r'{src}', '--pieces', '1', '--bars', '1']); "
            "assert rc == 0; assert 'torch' not in sys.modules, 'torch was imported'; print('no torch')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "no torch" in r.stdout


def test_stats_command_bad_input_is_one_line(tiny_model, tmp_path):
    r = run_cli("stats", "--model", tiny_model[1], "--data", tmp_path / "missing.json")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "missing.json" in r.stderr


def cadences(tonic):
    """I IV V I in the major key on ``tonic`` (a MIDI note), 4 steps each."""
    chords = [(0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)]
    return [[tonic + i for i in chord] for chord in chords for _ in range(4)]


def test_key_drift_counts_fifths_round_the_circle():
    a_minor = [[57, 60, 64]] * 4 + [[62, 65, 69]] * 4 + [[64, 68, 71]] * 4 + [[57, 60, 64]] * 4  # i iv V i
    pieces = [piece(*cadences(60), *cadences(67)),  # C -> G: one fifth up (sharpwards)
              piece(*cadences(60), *cadences(65)),  # C -> F: one down
              piece(*cadences(60), *cadences(62)),  # C -> D: two up
              piece(*cadences(60), *a_minor),  # C major -> A minor: the relative minor, no move
              piece(*cadences(60), *cadences(66))]  # C -> F#: the far side, counted as +6
    d = key_drift(pieces, window=16)
    assert d["pieces"] == 5
    assert d["same_key_share"] == pytest.approx(1 / 5)
    assert d["mean_fifths"] == pytest.approx((1 - 1 + 2 + 0 + 6) / 5)
    assert d["mean_abs_fifths"] == pytest.approx((1 + 1 + 2 + 0 + 6) / 5)
    assert d["sharpwards_share"] == pytest.approx(3 / 5)


def test_key_clarity_is_high_for_cadences_and_low_for_chromatic_clusters():
    in_c = piece(*cadences(60), *cadences(60))
    chromatic = piece(*[[60 + (i % 12), 61 + (i % 12), 62 + (i % 12)] for i in range(32)])  # every class alike
    clear, vague = key_clarity([in_c], window=16), key_clarity([chromatic], window=16)
    assert clear > 0.8 and vague < 0.3, (clear, vague)
    assert key_clarity([in_c, chromatic], window=16) == pytest.approx((clear + vague) / 2)  # the mean over windows
    assert key_clarity([piece(*[[]] * 16)], window=16) == 0.0  # silence has no key


def test_minor_share_counts_pieces_in_a_minor_key():
    a_minor = [[57, 60, 64]] * 4 + [[62, 65, 69]] * 4 + [[64, 68, 71]] * 4 + [[57, 60, 64]] * 4  # i iv V i
    c_minor = [[p - 9 + 12 for p in chord] for chord in a_minor]
    pieces = [piece(*cadences(60)), piece(*cadences(67)), piece(*a_minor), piece(*c_minor), piece(*[[]] * 8)]
    assert minor_share(pieces) == pytest.approx(2 / 4)  # the silent piece has no key and is not counted
    assert minor_share([piece(*cadences(62))]) == 0.0 and minor_share([]) == 0.0


def test_mode_histograms_keep_major_and_minor_pieces_apart():
    a_minor = [[57, 60, 64]] * 4 + [[62, 65, 69]] * 4 + [[64, 68, 71]] * 4 + [[57, 60, 64]] * 4  # i iv V i
    pieces = [piece(*cadences(60)), piece(*cadences(67)), piece(*a_minor)]
    h = mode_histograms(pieces)
    assert h["major"] == pytest.approx(key_normalised_histogram(pieces[:2]))  # G major is rotated onto C
    assert h["minor"] == pytest.approx(key_normalised_histogram(pieces[2:]))
    assert h["minor"][3] > 0 and h["minor"][4] == 0  # on the tonic C: the minor third (Eb), no E
    assert mode_histograms([piece(*cadences(60))])["minor"].sum() == 0  # no minor piece: an empty histogram
