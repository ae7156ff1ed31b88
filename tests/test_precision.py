"""Training precision: the fused LSTM layer, bf16 against fp32, and --precision on the command line."""

import subprocess
import sys

import pytest
import torch
from torch import nn

from live_biaxial.errors import LiveBiaxialError
from live_biaxial_training import precision
from live_biaxial_training.config import ModelConfig, TrainConfig
from live_biaxial_training.lstm import FusedLSTM
from live_biaxial_training.model import BiaxialLSTM, loss_per_step
from tests.conftest import ROOT, run_cli
from tests.test_model import loop_piece
from tests.test_training import TINY, midi_folder  # noqa: F401 (a fixture)

needs_bf16 = pytest.mark.skipif(not precision.cpu_has_bf16(), reason="this CPU has no bf16 matmuls")


@pytest.mark.parametrize("kernel", ["fused", "onednn"])
@pytest.mark.parametrize("with_state", [False, True])
def test_the_fused_layer_computes_what_nn_lstm_computes(with_state, kernel):
    torch.manual_seed(0)
    reference, fused = nn.LSTM(20, 16, batch_first=True), FusedLSTM(20, 16)
    fused.load_state_dict(reference.state_dict())  # the same parameter names: checkpoints carry over
    fused.kernel = kernel
    x = torch.randn(3, 7, 20, requires_grad=True)
    state = (torch.randn(1, 3, 16), torch.randn(1, 3, 16)) if with_state else None
    results = []
    for layer in (reference, fused):
        y, (h, c) = layer(x, state)
        loss = (y ** 2).sum() + (3 * c).sum()  # gradients through every output and the last cell state
        results.append([y, h, c, *torch.autograd.grad(loss, [x, *layer.parameters()])])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_bf16_matmuls_keep_fp32_weights_gradients_and_cell_state():
    torch.manual_seed(0)
    layer = FusedLSTM(12, 8)
    layer.kernel = "fused"  # its own recurrence (torch's kernel keeps its own state)
    x = torch.randn(2, 5, 12)
    exact, _ = layer(x)
    layer.compute_dtype = torch.bfloat16
    y, (h, c) = layer(x)
    y.sum().backward()
    assert y.dtype == c.dtype == torch.float32
    assert all(p.dtype == p.grad.dtype == torch.float32 for p in layer.parameters())
    assert 0 < (y - exact).abs().max() < 0.02  # bf16 operands: close, not identical


def train_loop(precision_name: str, steps: int = 300) -> list[float]:
    torch.manual_seed(0)
    model = BiaxialLSTM(ModelConfig(time_sizes=(24, 24), pitch_sizes=(12, 12), dropout=0.0))
    precision.apply(model, precision_name, torch.device("cpu"), kernel="fused")  # the recurrence of this project's own
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    piece = torch.from_numpy(loop_piece(1))[None]  # (1, 32, 78, 2)
    steps_t = torch.arange(piece.shape[1])[None]
    losses = []
    for _ in range(steps):
        loss = loss_per_step(model(piece, steps_t), piece[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_a_tiny_model_learns_alike_in_both_precisions():
    fp32, bf16 = train_loop("fp32"), train_loop("bf16")
    assert fp32[0] == pytest.approx(bf16[0], rel=0.01)  # the same start
    assert fp32[-1] < 0.02 * fp32[0] and bf16[-1] < 0.02 * bf16[0]  # both learn the loop (from 18.5 to ~0.1)
    # to about the same loss: the paths part in the first batches (rounding), and one reaches the loop's
    # plateau exit a few dozen batches before the other (over 6 seeds and two sizes bf16 ended 0.7-4x fp32's loss)
    assert 1 / 4 < bf16[-1] / fp32[-1] < 4


def test_auto_takes_bf16_only_where_it_measures_faster(monkeypatch):
    cpu = torch.device("cpu")
    rates = {torch.float32: 100.0, torch.bfloat16: 400.0}
    monkeypatch.setattr(precision, "matmul_gflops", lambda dtype, *a, **k: rates[dtype])
    assert precision.resolve("auto", cpu, bf16_supported=True) == "bf16"
    rates[torch.bfloat16] = 110.0  # emulated bf16: no faster
    assert precision.resolve("auto", cpu, bf16_supported=True) == "fp32"
    assert precision.resolve("auto", cpu, bf16_supported=False) == "fp32"
    assert precision.resolve("fp32", cpu, bf16_supported=True) == "fp32"
    with pytest.raises(LiveBiaxialError, match="--precision bf16: this CPU"):
        precision.resolve("bf16", cpu, bf16_supported=False)


def test_precision_bf16_on_a_cpu_without_it_is_one_line(midi_folder, tmp_path):
    code = ("import sys; from live_biaxial_training import precision; precision.cpu_has_bf16 = lambda: False\n"
            "from live_biaxial.cli import main\n"
            "sys.exit(main(sys.argv[1:]))")
    argv = ["train", str(midi_folder), "--out", str(tmp_path / "run"), "--batches", "1", *TINY[:-2],
            "--precision", "bf16"]
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "live-biaxial: error: --precision bf16: this CPU (no AVX-512 BF16 or AMX) has no bf16 matmuls; "
        "train with --precision fp32 or auto"]


@needs_bf16
def test_the_precision_is_recorded_shown_and_resumed(midi_folder, tmp_path):
    run = tmp_path / "run"
    tiny = TINY[:-2]  # without --precision fp32
    r = run_cli("train", midi_folder, "--out", run, "--batches", "2", *tiny, "--precision", "bf16")
    assert r.returncode == 0, r.stderr
    assert ", bf16 (" in r.stdout + r.stderr and "LSTM), new" in r.stdout + r.stderr  # the model line
    blob = torch.load(run / "last.pt", weights_only=False)
    assert blob["train_config"]["precision"] == "bf16" and blob["stages"][0]["precision"] == "bf16"
    r = run_cli("train", midi_folder, "--out", run, "--batches", "3", "--resume", *tiny)
    assert r.returncode == 0, r.stderr
    assert ", bf16 (" in r.stdout + r.stderr and "LSTM), resuming" in r.stdout + r.stderr  # the run's own, not auto
    assert len(torch.load(run / "last.pt", weights_only=False)["stages"]) == 1
    r = run_cli("train", midi_folder, "--out", run, "--batches", "4", "--resume", *tiny, "--precision", "fp32")
    assert r.returncode == 0, r.stderr
    blob = torch.load(run / "last.pt", weights_only=False)
    assert blob["train_config"]["precision"] == "fp32"
    assert [s.get("precision", "fp32") for s in blob["stages"]] == ["bf16", "fp32"] and blob["stages"][1]["from_batch"] == 4


def test_an_older_checkpoint_s_bf16_flag_reads_as_a_precision():
    assert TrainConfig.from_dict({"bf16": True}).precision == "bf16"
    assert TrainConfig.from_dict({"bf16": False, "lr": 3e-4}).precision == "fp32"


def test_the_kernel_is_the_one_measured_fastest_and_a_refusing_kernel_is_passed_over(monkeypatch):
    cpu = torch.device("cpu")
    assert precision.fastest_kernel("fp32", cpu, rows=8, inputs=6, hidden=4) in ("onednn", "fused")

    def refuse(self, x, state):
        raise RuntimeError("mkldnn_rnn: bf16 path needs the cpu support avx512bw, avx512vl and avx512dq")

    monkeypatch.setattr(FusedLSTM, "_onednn", refuse)  # as oneDNN's LSTM does on some CPUs under bf16 autocast
    assert precision.fastest_kernel("bf16", cpu, rows=8, inputs=6, hidden=4) == "fused"
