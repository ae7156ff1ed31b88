"""An exported model back into trainable weights: `train --init-from exported/default.onnx`, `eval M.onnx`.

Checkpoints stay in run folders that are not shipped; the exported file is what every checkout has.
Its initializers are the StepCell's fused matrices (see ``StepCell.__init__``), which this module
splits back into nn.LSTM's weight_ih / weight_hh / bias. nn.LSTM keeps two biases that always act as
their sum; the file holds the sum, which goes to bias_ih (bias_hh = 0): the same function, and the
same gradient for the sum. What the file does not hold: the optimizer's state and the dropout rate
of models exported before it was written down (0.5, the default, then).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from live_biaxial.errors import ModelFileError
from live_biaxial.model_file import Cell

from .config import ModelConfig
from .model import BiaxialLSTM


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float32))  # a copy: the arrays read from the file are read-only


def _lstm(prefix: str, weight_ih: np.ndarray, weight_hh: np.ndarray, bias: np.ndarray) -> dict[str, torch.Tensor]:
    """nn.LSTM layer weights from (in, 4H), (H, 4H) and (4H,) arrays (gate order i, f, g, o throughout)."""
    return {f"{prefix}.weight_ih_l0": _tensor(weight_ih.T), f"{prefix}.weight_hh_l0": _tensor(weight_hh.T),
            f"{prefix}.bias_ih_l0": _tensor(bias), f"{prefix}.bias_hh_l0": torch.zeros(len(bias))}


def state_dict_from_fused(w: dict[str, np.ndarray], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """BiaxialLSTM weights from the StepCell's fused matrices (names as ``StepCell`` registers them)."""
    out = {}
    for k, h in enumerate(cfg.time_sizes):
        fused = w[f"time_w.{k}"]  # (in + H, 4H)
        out |= _lstm(f"time_layers.{k}", fused[:-h], fused[-h:], w[f"time_b.{k}"])
    p1 = cfg.pitch_sizes[0]
    below, hidden = w["p0_w"][:-p1], w["p0_w"][-p1:]  # (2, 4P1) the note below; (P1, 4P1) recurrent
    inputs = [w["p0_time_w"], below] + ([w["p0_human_w"]] if cfg.listens else [])  # [time h, below(, the player's bits)]
    out |= _lstm("pitch_layers.0", np.concatenate(inputs), hidden, w["p0_b"])
    for k in range(1, len(cfg.pitch_sizes)):
        fused, n_in = w[f"pitch_w.{k - 1}"], cfg.pitch_sizes[k - 1]  # (P_{k-1} + P_k + 1, 4P_k): bias as last row
        out |= _lstm(f"pitch_layers.{k}", fused[:n_in], fused[n_in:-1], fused[-1])
    out["out.weight"] = _tensor(w["out_w"].T)  # (2, P)
    out["out.bias"] = _tensor(w["out_b"])
    if cfg.chords:
        out["plan_head.weight"] = _tensor(w["plan_w"].T)  # (13, H)
        out["plan_head.bias"] = _tensor(w["plan_b"])
    return out


def load_exported(path: str | Path) -> dict:
    """A checkpoint-like dict (model_config, model, step, stages, data_summary, path) from an exported model."""
    import onnx
    from onnx import numpy_helper

    cell = Cell(path)  # checks the format and metadata first: one clear line for a file that is not ours
    meta = cell.describe()
    cfg = ModelConfig(time_sizes=tuple(meta["time_sizes"]), pitch_sizes=tuple(meta["pitch_sizes"]),
                      dropout=float(meta.get("dropout", ModelConfig.dropout)),
                      steps_per_beat=int(meta.get("steps_per_beat", 4)),
                      key_memory_steps=int(meta.get("key_memory_steps", 0)), listens=cell.listens,
                      chords=cell.chords)
    weights = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    model = BiaxialLSTM(cfg)
    try:
        state = state_dict_from_fused(weights, cfg)
        model.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError) as err:
        raise ModelFileError(f"{path}: its weights do not match its own sizes ({type(err).__name__}: {err})"[:200]) from err
    valid_nll = cell.meta.get("valid_nll", "")
    return {"model_config": dataclasses.asdict(cfg), "model": model.state_dict(), "step": int(meta.get("batches", 0)),
            "stages": meta.get("stages") or [], "data_summary": meta.get("data_summary") or {},
            "best_valid_nll": float(valid_nll) if valid_nll else float("inf"), "optimizer": None, "path": str(path),
            "checkpoint_sha256": meta.get("checkpoint_sha256")}
