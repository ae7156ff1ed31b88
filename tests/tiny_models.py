"""Small models for tests: trained on a rule in a few hundred batches, exported through the real CLI."""

import numpy as np
import torch

from live_biaxial_training import checkpoint
from live_biaxial_training.config import TrainConfig
from live_biaxial_training.model import loss_per_step
from tests.conftest import run_cli


def fit(model, draw, batches: int = 300, lr: float = 0.02) -> float:
    """Train ``model`` on batches from ``draw(rng)`` -> [states, human, steps, meter(, chord)] tensors; the last loss."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    for _ in range(batches):
        states, human, steps, meter, *chord = draw(rng)
        loss = loss_per_step(model(states, steps, None, human, meter, *chord), states[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def export(model, folder, name: str, step: int = 0):
    """Checkpoint ``model`` into ``folder`` and export it with `live-biaxial export-onnx` (which verifies the file
    against torch) -> the .onnx path."""
    checkpoint.save(folder / "last.pt", model, None, step, TrainConfig(), {"data_summary": {}})
    r = run_cli("export-onnx", folder / "last.pt", "--out", folder / name)
    assert r.returncode == 0 and "notes identical" in r.stdout, r.stderr
    return folder / name
