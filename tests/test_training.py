"""The training loop through its real entry points: resume, DDP, CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from live_biaxial.music.representation import matrix_to_midi, normalize
from tests.conftest import ROOT, run_cli

# fp32: the same on every CPU (the precision's own tests are below)
TINY = ["--time-sizes", "16,16", "--pitch-sizes", "8,4", "--batch-size", "2", "--segment-steps", "32",
        "--eval-every", "2", "--checkpoint-every", "3", "--sample-every", "3", "--device", "cpu", "--precision", "fp32"]


@pytest.fixture(scope="module")
def midi_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("midi")
    rng = np.random.default_rng(0)
    for i in range(4):
        m = np.zeros((64, 78, 2), np.uint8)
        for t in range(0, 64, 4):
            m[t:t + 4, rng.integers(30, 50, 3), 0] = 1
        matrix_to_midi(normalize(m)).save(d / f"piece{i}.mid")
    return d


def metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_resume_gives_the_identical_next_loss(midi_folder, tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    r = run_cli("train", midi_folder, "--out", full, "--batches", "4", *TINY)
    assert r.returncode == 0, r.stderr
    r = run_cli("train", midi_folder, "--out", part, "--batches", "3", *TINY)
    assert r.returncode == 0, r.stderr
    r = run_cli("train", midi_folder, "--out", part, "--batches", "4", "--resume", *TINY)
    assert r.returncode == 0, r.stderr
    a, b = metrics(full), metrics(part)
    assert [m["step"] for m in b] == [1, 2, 3, 4]
    assert a[3]["loss"] == b[3]["loss"]  # bit-identical, not merely close
    assert (part / "samples" / "batch_000003.mid").exists()
    assert {"valid_nll", "valid_accuracy"} <= set(b[3])


def test_resume_keeps_the_runs_threads_unless_told(midi_folder, tmp_path):
    run = tmp_path / "run"
    tiny = [*TINY, "--sample-every", "0"]
    r = run_cli("train", midi_folder, "--out", run, "--batches", "2", "--threads", "2", *tiny)
    assert r.returncode == 0, r.stderr
    assert "cpu (2 threads)" in r.stdout
    # the tests run with OMP_NUM_THREADS=1, so torch's own default here is 1 thread
    r = run_cli("train", midi_folder, "--out", run, "--batches", "3", "--resume", *tiny)
    assert r.returncode == 0, r.stderr
    assert "cpu (2 threads)" in r.stdout
    r = run_cli("train", midi_folder, "--out", run, "--batches", "4", "--resume", "--threads", "1", *tiny)
    assert r.returncode == 0, r.stderr
    assert "cpu (1 thread)" in r.stdout
    r = run_cli("train", midi_folder, "--out", run, "--batches", "5", "--resume", *tiny)
    assert "cpu (1 thread)" in r.stdout  # the last setting is the run's now
    r = run_cli("train", midi_folder, "--out", tmp_path / "bad", "--batches", "1", "--threads", "-1", *tiny)
    assert r.returncode == 2 and "--threads -1" in r.stderr and "Traceback" not in r.stderr


def test_eval_prints_and_writes_json(midi_folder, tmp_path):
    run = tmp_path / "run"
    assert run_cli("train", midi_folder, "--out", run, "--batches", "2", *TINY).returncode == 0
    r = run_cli("eval", run / "last.pt", "--data", midi_folder, "--split", "valid", "--json", tmp_path / "m.json")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["steps"] > 0 and 0 < m["nll_play"] <= m["nll"] and 0 <= m["accuracy"] <= 1
    assert "NLL per step, play bits" in r.stdout


def test_ddp_two_processes_on_gloo(midi_folder, tmp_path):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
           "-m", "live_biaxial", "train", str(midi_folder), "--out", str(run), "--batches", "3", *TINY,
           "--threads", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr[-2000:]
    m = metrics(run)
    assert [x["step"] for x in m] == [1, 2, 3]  # rank 0 alone writes
    assert m[-1]["segments_per_s"] > 0
    assert (run / "last.pt").exists()


def test_music21_corpus_source_trains(tmp_path):
    """The music21 corpus (the `corpus` extra) as a training source anyone can reproduce."""
    pytest.importorskip("music21")
    from live_biaxial_training.data import load_data

    data = load_data(["music21:bach:5"], min_steps=64, log=lambda s: None)
    pieces = data.splits["train"] + data.splits["valid"] + data.splits["test"]
    assert len(pieces) + len(data.skipped) == 5
    assert len(data.splits["train"]) >= 3
    for p in pieces:  # four-part chorales: mostly 3-4 notes at once
        assert 2.5 < p.matrix[:, :, 0].sum(1).mean() <= 4.5
    r = run_cli("train", "music21:bach:5", "--out", tmp_path / "run", "--batches", "2", *TINY)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "run" / "last.pt").exists()
    r = run_cli("train", "music21:bach:x", "--out", tmp_path / "bad", *TINY)
    assert r.returncode == 2 and "music21:COMPOSER:COUNT" in r.stderr


def test_resume_with_a_new_learning_rate_and_the_runs_own_settings(midi_folder, tmp_path):
    import torch

    run = tmp_path / "run"
    assert run_cli("train", midi_folder, "--out", run, "--batches", "3", *TINY).returncode == 0
    # --segment-steps not repeated: the run's 32 holds, not the default 128 (which would drop every
    # 64-step piece of this folder; a resume once trained on 2 pieces of 228 that way)
    i = TINY.index("--segment-steps")
    r = run_cli("train", midi_folder, "--out", run, "--batches", "4", "--resume", "--new-lr", "1e-4",
                *TINY[:i], *TINY[i + 2 :])
    assert r.returncode == 0, r.stderr
    assert "data: 3 train pieces" in r.stdout + r.stderr
    blob = torch.load(run / "last.pt", weights_only=False)
    assert blob["step"] == 4
    assert blob["train_config"]["lr"] == 1e-4
    assert all(g["lr"] == 1e-4 for g in blob["optimizer"]["param_groups"])


def test_resume_with_longer_segments_fine_tunes_on_them(midi_folder, tmp_path):
    import torch

    run = tmp_path / "run"
    assert run_cli("train", midi_folder, "--out", run, "--batches", "2", *TINY).returncode == 0
    i = TINY.index("--batch-size")
    r = run_cli("train", midi_folder, "--out", run, "--batches", "3", "--resume", *TINY[:i],
                "--batch-size", "1", "--segment-steps", "64")
    assert r.returncode == 0, r.stderr
    blob = torch.load(run / "last.pt", weights_only=False)
    assert blob["step"] == 3
    assert (blob["train_config"]["segment_steps"], blob["train_config"]["batch_size"]) == (64, 1)
    assert blob["stages"] == [{"from_batch": 1, "batch_size": 2, "segment_steps": 32, "device": "cpu"},
                              {"from_batch": 3, "batch_size": 1, "segment_steps": 64, "device": "cpu"}]
    assert metrics(run)[-1]["step"] == 3


def test_a_key_memory_run_starts_from_a_trained_checkpoint_and_exports(midi_folder, tmp_path):
    import torch

    from live_biaxial.steering.generation import generate, seed_step
    from live_biaxial.model_file import Cell

    parent, run = tmp_path / "parent", tmp_path / "run"
    assert run_cli("train", midi_folder, "--out", parent, "--batches", "3", *TINY).returncode == 0
    r = run_cli("train", midi_folder, "--out", run, "--batches", "5", "--init-from", parent / "last.pt",
                "--key-memory", "16", "--transpose", "2", *TINY[4:])  # sizes from the parent
    assert r.returncode == 0, r.stderr
    assert f"from {parent / 'last.pt'} at batch 3, key memory 16 steps" in r.stdout
    assert [m["step"] for m in metrics(run)] == [4, 5]  # the batch count goes on from the parent's
    blob = torch.load(run / "last.pt", weights_only=False)
    assert blob["model_config"]["key_memory_steps"] == 16 and blob["model_config"]["time_sizes"] == (16, 16)
    assert blob["stages"] == [{"from_batch": 1, "batch_size": 2, "segment_steps": 32, "device": "cpu"},
                              {"from_batch": 4, "batch_size": 2, "segment_steps": 32, "device": "cpu",
                               "transpose": 2, "init_from": str(parent / "last.pt"), "key_memory_steps": 16,
                               "lr": 1e-3}]
    out = tmp_path / "km.onnx"
    r = run_cli("export-onnx", run / "last.pt", "--out", out, "--temperature", "0.8")  # checks onnxruntime vs torch
    assert r.returncode == 0, r.stderr
    cell = Cell(out)
    assert cell.state_size == 2 * (16 + 16) + 12 and cell.describe()["key_memory_steps"] == "16"
    notes, _ = generate(cell, cell.state_size, 32, seed_notes=seed_step(), seed=0)
    assert notes.shape == (32, 78, 2)

    from live_biaxial_training.model_card import main as model_card

    model_card(str(run), str(out))  # the card tells the whole history, the parent's validation rows too
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "batches 4-5: 2 segments x 32 steps transposed by up to +-2 semitones, key memory inputs added" in card
    rows = [line.split("|")[1].strip() for line in card.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert rows == ["2", "3", "4", "5"]
    assert "--out runs/finetune --init-from runs/small/last.pt --key-memory 16 --batch-size 2 --segment-steps 32 " \
           "--transpose 2 --lr 0.001 --batches 5" in card
    assert "export-onnx runs/finetune/last.pt --out exported/default.onnx --temperature 0.8`" in card
    assert "**Sampling**: temperature 0.8 unless the player picks one" in card


def test_the_model_card_says_which_batches_ran_on_a_gpu_and_how_to_rebuild_them():
    """Stages keep their device; stages from before that was kept ran on this machine's CPU."""
    from live_biaxial_training.model_card import CPU, rebuild_text, stages_text, wall_time_text

    meta = {"batches": "40", "stages": [
        {"from_batch": 1, "batch_size": 10, "segment_steps": 128},
        {"from_batch": 11, "batch_size": 7, "segment_steps": 192, "transpose": 6, "init_from": "a.onnx", "lr": 3e-4},
        {"from_batch": 21, "batch_size": 16, "segment_steps": 192, "transpose": 6, "init_from": "b.onnx",
         "lr": 3e-4, "device": "cuda", "home_key": True},
        {"from_batch": 31, "batch_size": 16, "segment_steps": 256, "device": "cuda", "own_notes": 0.25,
         "minor_weight": 2.5}]}
    metrics = [{"step": n, "time": 36.0 * n * (10 if n <= 20 else 1)} for n in range(1, 41)]  # 10x faster on the GPU
    assert wall_time_text(metrics, meta) == f"about 1.9 h on {CPU} and about 0.2 h on a CUDA GPU"
    later = wall_time_text(metrics[25:], meta)
    assert later.startswith("batches 26-40: about 0.1 h on a CUDA GPU;") and "CPU" not in later
    commands = rebuild_text(meta).split(", then ")
    assert [c.count("--device cuda") for c in commands] == [0, 0, 1, 1, 0]
    assert "--out runs/finetune --init-from runs/small/last.pt" in commands[1]
    assert "--out runs/finetune2 --init-from runs/finetune/last.pt" in commands[2] and "--home-key" in commands[2]
    assert "--home-key" not in commands[1] + commands[3]
    assert "--out runs/finetune2 --resume --batches 40" in commands[3] and "--own-notes 0.25" in commands[3]
    assert "--minor-weight 2.5" in commands[3] and "--minor-weight" not in commands[2]
    assert ("batches 31-40: 16 segments x 256 steps, pieces in minor keys drawn 2.5 times as often, 25% of input "
            "steps drawn from its own predictions") in stages_text(meta, {"train": {"pieces": 9}})
    assert "export-onnx runs/finetune2/last.pt" in commands[4]


def test_own_notes_replace_the_chosen_input_steps_with_draws_from_the_model():
    import torch

    from live_biaxial_training.config import ModelConfig
    from live_biaxial_training.model import BiaxialLSTM
    from live_biaxial_training.train import with_own_notes

    torch.manual_seed(0)
    model = BiaxialLSTM(ModelConfig((8,), (6,), 0.5)).train()
    states = (torch.rand(3, 17, 78, 2) < 0.3).float()  # (B, T+1, 78, 2); a new model plays ~5% of notes
    states[..., 1] *= states[..., 0]
    steps = torch.arange(17)[None].expand(3, -1)
    assert torch.equal(with_own_notes(model, states, steps, 0.0), states)
    everything = with_own_notes(model, states, steps, 1.0)
    assert model.training  # dropout back on for the training pass
    assert torch.equal(everything[:, 0], states[:, 0])  # the first step has no prediction to draw from
    assert not torch.equal(everything[:, 1:], states[:, 1:])
    assert (everything[..., 1] <= everything[..., 0]).all()  # articulated only where played
    with torch.no_grad():
        p = torch.sigmoid(model.eval()(states, steps))[..., 0]  # (B, T, 78) what the draws follow
    rate = everything[:, 1:, :, 0].mean()
    assert abs(rate - p.mean()) < 0.02 and abs(rate - states[:, 1:, :, 0].mean()) > 0.2  # the model's rate, not the data's
    half = with_own_notes(model.train(), states, steps, 0.5)
    same = (half == states).all(-1).all(-1)[:, 1:]  # (B, T) steps left real
    assert 0.2 < same.float().mean() < 0.9



def test_own_notes_are_the_chords_generation_would_play():
    """The pitch-axis walk of with_own_notes draws, for the same noise, exactly what the exported step draws."""
    import torch

    from live_biaxial_training.config import ModelConfig
    from live_biaxial_training.model import BiaxialLSTM, StepCell

    torch.manual_seed(1)
    model = BiaxialLSTM(ModelConfig((8,), (6, 5), 0.5)).eval()
    with torch.no_grad():
        model.out.bias[0] = 0.0  # about half the notes play: chords, not single notes
    states = (torch.rand(1, 13, 78, 2) < 0.2).float()  # (1, T+1, 78, 2) a true past
    states[..., 1] *= states[..., 0]
    steps = torch.arange(-1, 12)[None]
    noise = torch.rand(1, 12, 78, 2)
    drawn = model.walk(model.time_axis(states, steps), noise)  # (1, T, 78, 2)
    assert drawn[..., 0].sum(-1).min() > 3 and (drawn[..., 1] <= drawn[..., 0]).all()
    cell, one = StepCell(model), torch.tensor(1.0)
    state = torch.zeros(78, cell.state_size)
    for t in range(12):  # the step fed the true past each time, as the walk is
        new, _, state = cell(states[0, t], steps[0, t], state, noise[0, t], one, one, torch.zeros(78))
        assert torch.equal(new, drawn[0, t]), t

def test_training_on_own_notes_records_it_and_resumes_exactly(midi_folder, tmp_path):
    import torch

    full, part = tmp_path / "full", tmp_path / "part"
    own = ["--own-notes", "0.5"]
    assert run_cli("train", midi_folder, "--out", full, "--batches", "3", *own, *TINY).returncode == 0
    assert run_cli("train", midi_folder, "--out", part, "--batches", "2", *own, *TINY).returncode == 0
    r = run_cli("train", midi_folder, "--out", part, "--batches", "3", "--resume", *TINY)
    assert r.returncode == 0, r.stderr
    assert metrics(full)[2]["loss"] == metrics(part)[2]["loss"]
    plain = tmp_path / "plain"
    assert run_cli("train", midi_folder, "--out", plain, "--batches", "3", *TINY).returncode == 0
    assert metrics(plain)[0]["loss"] != metrics(full)[0]["loss"]  # the draws change what it reads
    blob = torch.load(part / "last.pt", weights_only=False)
    assert blob["train_config"]["own_notes"] == 0.5 and blob["stages"][0]["own_notes"] == 0.5


def test_out_of_range_training_settings_are_one_line(midi_folder, tmp_path):
    for option, value, says in (("--minor-weight", "0", "a weight above 0"), ("--own-notes", "1", "below 1")):
        r = run_cli("train", midi_folder, "--out", tmp_path / "run", option, value, *TINY)
        assert r.returncode == 2 and "Traceback" not in r.stderr and says in r.stderr, r.stderr
        assert not (tmp_path / "run").exists()


def test_init_from_a_missing_checkpoint_is_one_line(midi_folder, tmp_path):
    r = run_cli("train", midi_folder, "--out", tmp_path / "run", "--batches", "2", "--init-from",
                tmp_path / "nothing.pt", "--key-memory", "8", *TINY)
    assert r.returncode != 0 and "Traceback" not in r.stderr and "nothing.pt: no such checkpoint" in r.stderr


def test_an_exported_model_trains_on_and_evaluates_like_its_checkpoint(midi_folder, tmp_path):
    """Run folders are not shipped: `--init-from exported/X.onnx` and `eval X.onnx` split the file's weights back."""
    import torch

    from live_biaxial_training import checkpoint

    parent = tmp_path / "parent"
    assert run_cli("train", midi_folder, "--out", parent, "--batches", "3", *TINY).returncode == 0
    assert run_cli("export-onnx", parent / "last.pt", "--out", tmp_path / "parent.onnx").returncode == 0
    piece = torch.from_numpy(np.random.default_rng(1).random((1, 40, 78, 2)) < 0.1).float()  # (1, T, 78, 2)
    steps = torch.arange(40)[None]

    def same_function(a, b):
        (ma, _), (mb, blob) = checkpoint.load_model(a), checkpoint.load_model(b)
        assert ma.config == mb.config
        with torch.no_grad():
            torch.testing.assert_close(ma(piece, steps), mb(piece, steps), atol=1e-5, rtol=1e-5)
        return blob

    blob = same_function(parent / "last.pt", tmp_path / "parent.onnx")
    assert blob["step"] == 3 and blob["stages"] == [{"from_batch": 1, "batch_size": 2, "segment_steps": 32,
                                                                 "device": "cpu"}]
    evals = [run_cli("eval", m, "--data", midi_folder, "--split", "train") for m in (parent / "last.pt", tmp_path / "parent.onnx")]
    assert all(r.returncode == 0 for r in evals), evals[1].stderr
    nll = [json.loads(r.stdout.splitlines()[-1])["nll"] for r in evals]
    assert nll[0] == pytest.approx(nll[1], abs=1e-5)

    run = tmp_path / "run"  # with a key memory: the widened first layer comes back from the file too
    r = run_cli("train", midi_folder, "--out", run, "--batches", "5", "--init-from", tmp_path / "parent.onnx",
                "--key-memory", "16", *TINY[4:])
    assert r.returncode == 0, r.stderr
    assert [m["step"] for m in metrics(run)] == [4, 5]
    assert torch.load(run / "last.pt", weights_only=False)["stages"][-1]["init_from"] == str(tmp_path / "parent.onnx")
    assert run_cli("export-onnx", run / "last.pt", "--out", tmp_path / "run.onnx").returncode == 0
    same_function(run / "last.pt", tmp_path / "run.onnx")

    from live_biaxial_training.model_card import main as model_card

    model_card(str(run), str(tmp_path / "run.onnx"))  # no metrics beside the parent file: this run's rows only
    rows = [line.split("|")[1].strip() for line in (tmp_path / "MODEL_CARD.md").read_text().splitlines()
            if line.startswith("| ") and line[2].isdigit()]
    assert rows == ["4", "5"]

    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    r = run_cli("train", midi_folder, "--out", tmp_path / "bad", "--batches", "2", "--init-from", tmp_path / "junk.onnx", *TINY)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "junk.onnx: not a readable ONNX model" in r.stderr, r.stderr


def test_home_key_moves_each_piece_to_c_major_or_a_minor():
    """--home-key: a cadence in D major lands in C major, one in E minor in A minor, by the nearest shift."""
    from live_biaxial.steering.generation import key_prime
    from live_biaxial_training.measures.stats import key_of, pitch_class_histogram
    from live_biaxial_training.data import Data, Piece, home_key_shift, to_home_key, transposed

    d_major = (np.tile(key_prime(2), (4, 1, 1)) > 0).astype(np.uint8)  # (64, 78, 2)
    e_minor = (np.tile(key_prime(4, minor=True), (4, 1, 1)) > 0).astype(np.uint8)
    f_sharp = transposed(d_major, 4)  # F# major: six sharps, moved down 6 or up 6 alike
    assert [home_key_shift(m) for m in (d_major, e_minor, f_sharp)] == [-2, 5, 6]
    data = Data({"train": [Piece("d", d_major), Piece("e", e_minor)], "valid": [Piece("f", f_sharp)], "test": []},
                [], ["x"])
    moved = to_home_key(data)
    assert [key_of(pitch_class_histogram(p.matrix)) for p in moved.splits["train"]] == [(0, False), (9, True)]
    assert key_of(pitch_class_histogram(moved.splits["valid"][0].matrix)) == (0, False)
    for before, after in zip(data.splits["train"], moved.splits["train"]):
        assert after.matrix.sum() == before.matrix.sum()  # every note kept, only moved


def test_a_home_key_run_trains_on_moved_pieces_and_says_so(midi_folder, tmp_path):
    import torch

    home, part, plain = tmp_path / "home", tmp_path / "part", tmp_path / "plain"
    assert run_cli("train", midi_folder, "--out", home, "--batches", "3", "--home-key", *TINY).returncode == 0
    assert run_cli("train", midi_folder, "--out", plain, "--batches", "2", *TINY).returncode == 0
    assert metrics(home)[0]["loss"] != metrics(plain)[0]["loss"]  # same segments, other keys
    assert run_cli("train", midi_folder, "--out", part, "--batches", "2", "--home-key", *TINY).returncode == 0
    r = run_cli("train", midi_folder, "--out", part, "--batches", "3", "--resume", *TINY)  # the run's own keys
    assert r.returncode == 0, r.stderr
    assert metrics(part)[2]["loss"] == metrics(home)[2]["loss"]
    blob = torch.load(part / "last.pt", weights_only=False)
    assert blob["train_config"]["home_key"] and blob["stages"] == [blob["stages"][0]] and blob["stages"][0]["home_key"]


def test_minor_weight_draws_pieces_in_minor_keys_that_many_times_as_often():
    from live_biaxial.steering.generation import key_prime
    from live_biaxial_training.data import Piece, minor_weights, sample_batch

    major = (np.tile(key_prime(2), (8, 1, 1)) > 0).astype(np.uint8)  # D major, 128 steps
    minor = (np.tile(key_prime(4, minor=True), (8, 1, 1)) > 0).astype(np.uint8)  # E minor
    pieces = [Piece("a", major), Piece("b", minor), Piece("c", major)]
    assert minor_weights(pieces, 1.0) is None
    w = minor_weights(pieces, 4.0)
    assert np.allclose(w, [1 / 6, 4 / 6, 1 / 6])
    states, _ = sample_batch(pieces, np.random.default_rng(0), 600, 16, weights=w)
    is_minor = np.array([np.array_equal(s, minor[:16]) for s in states.astype(np.uint8)])
    assert 0.6 < is_minor.mean() < 0.73  # 4 / 6 of the draws


def test_average_validates_and_keeps_the_averaged_weights_and_resumes_them(midi_folder, tmp_path):
    import torch

    run = tmp_path / "run"
    r = run_cli("train", midi_folder, "--out", run, "--batches", "4", *TINY, "--average", "0.9")
    assert r.returncode == 0, r.stderr
    last = torch.load(run / "last.pt", weights_only=False)
    best = torch.load(run / "best.pt", weights_only=False)
    assert last["averaged"]["updates"] == 4 and last["stages"][0]["average"] == 0.9
    assert "averaged" not in best  # best.pt holds the averaged weights as its model
    own, avg = last["model"], last["averaged"]["weights"]
    assert any(not torch.equal(own[k], avg[k]) for k in own)  # an average, not the last step's weights
    if best["step"] == 4:
        assert all(torch.equal(best["model"][k], avg[k]) for k in avg)
    r = run_cli("train", midi_folder, "--out", run, "--batches", "6", "--resume", *TINY)
    assert r.returncode == 0, r.stderr
    assert torch.load(run / "last.pt", weights_only=False)["averaged"]["updates"] == 6  # carried on, not restarted
    r = run_cli("train", midi_folder, "--out", tmp_path / "bad", "--batches", "1", *TINY, "--average", "1")
    assert r.returncode == 2 and "--average 1" in r.stderr and "Traceback" not in r.stderr


def test_a_run_says_how_long_it_takes_and_ends_naming_its_best_checkpoint_and_the_next_command(midi_folder, tmp_path):
    run = tmp_path / "laptop"
    r = run_cli("train", midi_folder, "--out", run, "--batches", "5", "--sample-every", "500", *TINY)
    assert r.returncode == 0, r.stderr
    said = r.stdout + r.stderr
    assert "s a batch on this machine: the 2 batches left take about" in said
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith(f"best: {run / 'best.pt'} (validation NLL ") and "at batch 5" in last
    assert last.endswith(f"next: live-biaxial export-onnx {run / 'best.pt'} --out laptop.onnx")
    assert (run / "samples" / "batch_000005.mid").exists()  # a sample at the end of any run, however short


def test_listen_on_music_without_voices_apart_says_what_the_player_gets(midi_folder, tmp_path):
    r = run_cli("train", midi_folder, "--out", tmp_path / "solo", "--batches", "1", "--listen", *TINY)
    assert r.returncode == 0, r.stderr
    assert "none of these pieces has its voices apart" in r.stdout and "learns to play solo" in r.stdout
