"""The exported step graph: parity with torch, the live controls, metadata checks, no torch at run time."""

import subprocess
import sys

import numpy as np
import pytest

from live_biaxial.errors import ModelFileError
from live_biaxial.steering.generation import generate
from live_biaxial.model_file import Cell
from tests.conftest import ROOT, run_cli
from live_biaxial_training.model import StepCell
from live_biaxial_training.train import torch_cell

@pytest.fixture(scope="module")
def tiny(tiny_model):
    return tiny_model


def run_cell(cell, notes, noise, c=1.0, temp=1.0, bias=None, step=3):
    bias = np.zeros(78, np.float32) if bias is None else bias.astype(np.float32)
    state = np.zeros((78, cell.state_size), np.float32)
    out = cell(notes, np.int64(step), state, noise.astype(np.float32), np.float32(c), np.float32(temp), bias)
    return [o.copy() for o in out]


def chord():
    n = np.zeros((78, 2), np.float32)
    n[[24, 28, 31, 36]] = 1
    return n


def test_parity_with_torch_over_a_long_walk(tiny):
    model, path = tiny
    cell = Cell(path)
    tc = StepCell(model)
    kw = dict(n_steps=96, seed_notes=chord(), seed=7, anti_silence=1.0, temperature=0.9)
    notes_o, probs_o = generate(cell, cell.state_size, **kw)
    notes_t, probs_t = generate(torch_cell(tc), tc.state_size, **kw)
    assert notes_o[..., 0].sum() > 0
    np.testing.assert_array_equal(notes_o, notes_t)
    np.testing.assert_allclose(probs_o, probs_t, atol=1e-5)


def test_minus_infinity_bias_forbids_notes(tiny):
    cell = Cell(tiny[1])
    bias = np.zeros(78)
    bias[::2] = -np.inf
    rng = np.random.default_rng(0)
    total = np.zeros(78)
    for _ in range(30):
        notes, probs, _ = run_cell(cell, chord(), rng.random((78, 2)) * 0.3, c=0.2, bias=bias)  # eager noise
        total += notes[:, 0]
        assert probs[::2, 0].max() == 0.0
    assert total[::2].sum() == 0 and total[1::2].sum() > 0


def test_lower_conservativity_plays_more_notes(tiny):
    cell = Cell(tiny[1])
    rng = np.random.default_rng(1)
    counts = {1.0: 0, 0.5: 0}
    for _ in range(40):
        noise = rng.random((78, 2))
        for c in counts:
            counts[c] += run_cell(cell, chord(), noise, c=c)[0][:, 0].sum()
    assert counts[0.5] > 1.5 * counts[1.0]


def test_temperature_near_zero_gives_the_most_likely_notes(tiny):
    cell = Cell(tiny[1])
    rng = np.random.default_rng(2)
    a, pa, _ = run_cell(cell, chord(), rng.random((78, 2)), temp=1e-6)
    b, _, _ = run_cell(cell, chord(), rng.random((78, 2)), temp=1e-6)
    np.testing.assert_array_equal(a, b)  # the noise no longer matters
    np.testing.assert_array_equal(a[:, 0], (pa[:, 0] > 0.5).astype(np.float32))
    # and each chosen bit is the likelier one at temperature 1 along the same path
    hot, p1, _ = run_cell(cell, chord(), np.full((78, 2), 0.5), temp=1.0)
    np.testing.assert_array_equal(hot[:, 0], a[:, 0])


def longest_silence(notes):
    run = best = 0
    for playing in notes[:, :, 0].sum(1):
        run = run + 1 if playing == 0 else 0
        best = max(best, run)
    return best


def test_anti_silence_keeps_silences_under_a_bar(tiny):
    cell = Cell(tiny[1])
    quiet = np.full(78, -7.0, np.float32)  # a model that would rather stay silent
    kw = dict(n_steps=256, seed=5, play_bias=quiet)
    off, _ = generate(cell, cell.state_size, anti_silence=0.0, **kw)
    on, _ = generate(cell, cell.state_size, anti_silence=1.0, **kw)
    assert longest_silence(off) > 16
    assert longest_silence(on) < 16


def test_metadata_is_in_the_file(tiny):
    meta = Cell(tiny[1]).describe()
    assert meta["format"] == "live-biaxial-onnx/1"
    assert meta["time_sizes"] == [24, 16] and meta["pitch_sizes"] == [12, 8]
    assert meta["note_window"] == "24..101" and meta["steps_per_beat"] == "4"
    assert len(meta["checkpoint_sha256"]) == 16


def test_bad_model_files_give_one_line(tiny, tmp_path):
    import onnx

    (tmp_path / "junk.onnx").write_bytes(b"not onnx at all")
    with pytest.raises(ModelFileError, match="not a readable ONNX model"):
        Cell(tmp_path / "junk.onnx")
    with pytest.raises(ModelFileError, match="no such model file"):
        Cell(tmp_path / "missing.onnx")
    proto = onnx.load(str(tiny[1]))
    for entry in proto.metadata_props:
        if entry.key == "format":
            entry.value = "live-biaxial-onnx/99"
    onnx.save(proto, str(tmp_path / "future.onnx"))
    with pytest.raises(ModelFileError, match="live-biaxial-onnx/99"):
        Cell(tmp_path / "future.onnx")
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "plain.onnx"))
    with pytest.raises(ModelFileError, match="not a live-biaxial model"):
        Cell(tmp_path / "plain.onnx")
    r = run_cli("generate", "--model", tmp_path / "junk.onnx", "--out", tmp_path / "x.mid")
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("key, value, says", [("state_size", None, "no state_size metadata"),
                                              ("state_size", "lots", "'lots' is not a whole number"),
                                              ("steps_per_beat", "0", "steps_per_beat metadata 0"),
                                              ("steps_per_beat", "x", "'x' is not a whole number")])
def test_damaged_metadata_is_one_line(tiny, tmp_path, key, value, says):
    import onnx

    proto = onnx.load(str(tiny[1]))
    kept = [e for e in proto.metadata_props if e.key != key]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    if value is not None:
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(tmp_path / "damaged.onnx"))
    with pytest.raises(ModelFileError, match=says):
        Cell(tmp_path / "damaged.onnx")
    r = run_cli("generate", "--model", tmp_path / "damaged.onnx", "--out", tmp_path / "x.mid")
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert "damaged model" in r.stderr


def test_export_errors_are_one_line(tmp_path):
    (tmp_path / "x.pt").write_text("hello")
    for target in (tmp_path / "x.pt", tmp_path / "none.pt"):
        r = run_cli("export-onnx", target, "--out", tmp_path / "o.onnx")
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("live-biaxial: error:")


def test_generate_runs_without_torch_and_writes_midi_and_png(tiny, tmp_path):
    code = (
        "import sys; from live_biaxial.cli import main; "
        f"rc = main(['generate', '--model', r'{tiny[1]}', '--bars', '2', '--out', r'{tmp_path / 'g.mid'}', "
        f"'--plot', r'{tmp_path / 'g.png'}']); "
        "assert rc == 0; assert 'torch' not in sys.modules, 'torch was imported'; print('no torch')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "no torch" in r.stdout
    import re

    import mido

    from live_biaxial.music.representation import midi_to_matrix

    said = int(re.search(r"(\d+) notes,", r.stdout).group(1))
    written = sum(1 for t in mido.MidiFile(tmp_path / "g.mid").tracks for x in t if x.type == "note_on" and x.velocity)
    assert said == written  # the count printed is the file's
    m, _ = midi_to_matrix(tmp_path / "g.mid")
    assert m.shape[0] <= 32 and m[..., 0].sum() > 0
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def test_generate_goes_on_from_a_prime_it_has_heard(tiny, tmp_path):
    """--prime: the file is the prime as it was, then --bars more, which follow from what the model heard."""
    from live_biaxial.music.representation import matrix_to_midi, midi_to_matrix, normalize

    rng = np.random.default_rng(3)
    primes = []
    for i in range(2):
        m = np.zeros((32, 78, 2), np.uint8)
        for t in range(0, 32, 4):
            m[t : t + 4, rng.integers(30, 50, 3), 0] = 1
        matrix_to_midi(normalize(m)).save(tmp_path / f"p{i}.mid")
        primes.append(midi_to_matrix(tmp_path / f"p{i}.mid")[0])  # (32, 78, 2) as the command reads it
    for i, prime in enumerate(primes):
        out = tmp_path / f"o{i}.mid"
        r = run_cli("generate", "--model", tiny[1], "--prime", tmp_path / f"p{i}.mid", "--bars", "2", "--seed", "1",
                    "--out", out)
        assert r.returncode == 0, r.stderr
        assert f"p{i}.mid (2 bars) then 2 bars" in r.stdout
        music = midi_to_matrix(out)[0]
        assert np.array_equal(music[: len(prime)], prime) and len(prime) < len(music) <= len(prime) + 32
    cell = Cell(tiny[1])
    heard = [generate(cell, cell.state_size, 8, seed=1, prime=p)[1] for p in primes]  # (8, 78, 2) probabilities
    last_step_only = generate(cell, cell.state_size, 8, seed=1, seed_notes=primes[0][-1])[1]
    assert not np.allclose(heard[0], heard[1]) and not np.allclose(heard[0], last_step_only)
    (tmp_path / "junk.mid").write_bytes(b"MThd junk")
    r = run_cli("generate", "--model", tiny[1], "--prime", tmp_path / "junk.mid", "--out", tmp_path / "j.mid")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "junk.mid" in r.stderr
    assert r.stderr.count("\n") == 1 and not (tmp_path / "j.mid").exists()


def test_a_model_carries_its_own_temperature(tiny, tmp_path):
    """export-onnx --temperature writes it into the file; generate, stats and play use it unless told otherwise."""
    ckpt = tiny[1].parent / "last.pt"
    r = run_cli("export-onnx", ckpt, "--out", tmp_path / "cool.onnx", "--temperature", "0.5")
    assert r.returncode == 0, r.stderr
    assert Cell(tmp_path / "cool.onnx").temperature == 0.5
    assert Cell(tiny[1]).temperature == 1.0  # a model that names none: plain sampling

    def piece(model, *extra):
        out = tmp_path / f"{len(list(tmp_path.iterdir()))}.mid"
        r = run_cli("generate", "--model", model, "--bars", "4", "--seed", "5", "--out", out, *extra)
        assert r.returncode == 0, r.stderr
        return out.read_bytes()

    own = piece(tmp_path / "cool.onnx")
    assert own == piece(tiny[1], "--temperature", "0.5")  # same graph, same seed: the metadata is the only difference
    assert own != piece(tiny[1])
    assert piece(tmp_path / "cool.onnx", "--temperature", "1") == piece(tiny[1])  # the user's choice wins


def test_bad_temperatures_are_one_line(tiny, tmp_path):
    from live_biaxial_training.export import set_metadata

    for value, message in (("hot", "is not a number"), ("9", "outside 0.1..2")):
        bad = tmp_path / f"t{value}.onnx"
        bad.write_bytes(tiny[1].read_bytes())
        set_metadata(bad, {"temperature": value})
        with pytest.raises(ModelFileError, match=message):
            Cell(bad)
        r = run_cli("generate", "--model", bad, "--out", tmp_path / "x.mid")
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    for args in (("generate", "--model", tiny[1], "--temperature", "-1", "--out", tmp_path / "x.mid"),
                 ("export-onnx", tiny[1].parent / "last.pt", "--out", tmp_path / "o.onnx", "--temperature", "5")):
        r = run_cli(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "--temperature" in r.stderr, r.stderr
    assert not (tmp_path / "o.onnx").exists()


def test_generate_in_a_key_hears_its_cadence_and_can_lock_to_its_scale(tiny, tmp_path):
    """--key: the model hears I IV V I in the key first (not written); --lock: only the key's scale plays."""
    from live_biaxial.steering.generation import key_prime
    from live_biaxial.music.representation import LOW_NOTE, midi_to_matrix, normalize

    out = tmp_path / "d.mid"
    r = run_cli("generate", "--model", tiny[1], "--key", "D minor", "--bars", "2", "--seed", "3", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "in D minor" in r.stdout
    music = midi_to_matrix(out)[0]
    cell = Cell(tiny[1])
    expected = normalize(generate(cell, cell.state_size, 32, seed=3, prime=key_prime(2, minor=True))[0])  # (32, 78, 2)
    assert np.array_equal(music, expected[: len(music)]) and music[..., 0].sum() > 0  # as a file: notes start struck
    r = run_cli("generate", "--model", tiny[1], "--key", "D minor", "--lock", "--bars", "4", "--seed", "3", "--out", out)
    assert r.returncode == 0, r.stderr
    locked = midi_to_matrix(out)[0]
    played = {(int(k) + LOW_NOTE) % 12 for k in np.flatnonzero(locked[..., 0].any(0))}
    assert played and played <= {2, 4, 5, 7, 9, 10, 0}
    for bad in (["--lock"], ["--key", "H minor"]):
        r = run_cli("generate", "--model", tiny[1], *bad, "--out", tmp_path / "x.mid")
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
        assert not (tmp_path / "x.mid").exists()
