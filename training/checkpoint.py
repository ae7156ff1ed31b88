"""Checkpoints: one torch file carrying the model config, weights, optimizer state and step."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import torch

from live_biaxial.errors import ModelFileError

from .config import ModelConfig, TrainConfig
from .model import BiaxialLSTM

FORMAT = "live-biaxial-checkpoint/1"


def save(path: Path, model, optimizer, step: int, train_config: TrainConfig, extra: dict) -> None:
    """Write atomically (temp file + rename), so Ctrl-C never leaves half a checkpoint."""
    raw = model.module if hasattr(model, "module") else model
    blob = {
        "format": FORMAT,
        "model_config": dataclasses.asdict(raw.config),
        "train_config": dataclasses.asdict(train_config),
        "model": raw.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": step,
        **extra,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)


def load(path: str | Path) -> dict:
    """Read a checkpoint (or an exported .onnx model's weights); anything else gives one ModelFileError line."""
    path = Path(path)
    if path.is_dir():
        path = path / "last.pt"
    if not path.exists():
        raise ModelFileError(f"{path}: no such checkpoint")
    if path.suffix == ".onnx":  # an exported model: its weights, split back (training/from_onnx.py)
        from .from_onnx import load_exported

        return load_exported(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises pickle, zip and runtime errors alike
        raise ModelFileError(f"{path}: not a live-biaxial checkpoint (cannot be read: {type(err).__name__})") from err
    if not isinstance(blob, dict) or "format" not in blob:
        raise ModelFileError(f"{path}: not a live-biaxial checkpoint")
    if blob["format"] != FORMAT:
        raise ModelFileError(f"{path}: checkpoint format {blob['format']!r}, this version reads {FORMAT!r}")
    blob["path"] = str(path)
    return blob


def load_model(path: str | Path) -> tuple[BiaxialLSTM, dict]:
    blob = load(path)
    model = BiaxialLSTM(ModelConfig.from_dict(blob["model_config"]))
    try:
        model.load_state_dict(blob["model"])
    except RuntimeError as err:
        raise ModelFileError(f"{blob['path']}: weights do not fit its own config") from err
    return model.eval(), blob


def load_widened(model: BiaxialLSTM, weights: dict, source: str) -> None:
    """Start ``model`` from another model's weights; input weights it has more of (the key memory's, the meter's,
    the player's part's and the chord's, all after the old inputs) start at 0, and a new plan head at its own
    initial weights.

    With the extra inputs' weights at zero the widened model computes exactly what the old one did,
    and training then learns what to make of the new inputs.
    """
    own = model.state_dict()
    for name, tensor in own.items():
        old = weights.get(name)
        if old is None and name.startswith("plan_head."):
            continue  # a plan head the parent had none of keeps its initial (uniform) weights
        widened = name in ("time_layers.0.weight_ih_l0", "pitch_layers.0.weight_ih_l0")  # (4H, inputs): they may grow
        fits = old is not None and (old.shape == tensor.shape or (
            widened and old.shape[0] == tensor.shape[0] and old.shape[1] <= tensor.shape[1]))
        if not fits:
            raise ModelFileError(f"{source}: its weights do not fit this model ({name}); same sizes needed")
        if widened:
            tensor.zero_()
            tensor[:, : old.shape[1]] = old
        else:
            tensor.copy_(old)
    model.load_state_dict(own)


def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
