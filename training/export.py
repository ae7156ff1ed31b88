"""`live-biaxial export-onnx`: a checkpoint -> one ONNX graph for one time step, verified.

The graph is ``StepCell`` (features, time-axis step, the pitch walk with sampling). Before it
reports success, 64 steps from a seed chord run in torch and in onnxruntime with the same noise:
the notes must be identical and the probabilities within 1e-5.
"""

from __future__ import annotations

import datetime
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from live_biaxial.errors import LiveBiaxialError, ModelFileError
from live_biaxial.music.chords import ChordChart
from live_biaxial.steering.controls import MODEL_TEMPERATURE_RANGE
from live_biaxial.steering.generation import generate, seed_step
from live_biaxial.steering.harmony import HarmonyFollower
from live_biaxial.model_file import (FORMAT, HARMONY_FORMAT, HARMONY_INPUTS, HARMONY_OUTPUTS, INPUTS, LISTENING_FORMAT,
                                     LISTENING_INPUTS, OUTPUTS, Cell)
from live_biaxial.music.representation import HIGH_NOTE, LOW_NOTE, N_NOTES

from . import checkpoint
from .model import StepCell
from .train import torch_cell

VERIFY_STEPS = 64


def example_inputs(cell: StepCell) -> tuple:
    notes = torch.zeros(N_NOTES, 2)
    solo = (notes, torch.tensor(0), torch.zeros(N_NOTES, cell.state_size), torch.rand(N_NOTES, 2),
            torch.tensor(1.0), torch.tensor(1.0), torch.zeros(N_NOTES))
    return (solo + ((torch.zeros(N_NOTES, 2), torch.tensor([16, 4])) if cell.listens else ())
            + ((torch.zeros(3, 12),) if cell.chords else ()))


def export(checkpoint_path: str, out: str | None = None, log=print, temperature: float | None = None) -> Path:
    """temperature: the sampling temperature players use unless told otherwise (metadata; none = 1)."""
    low, high = MODEL_TEMPERATURE_RANGE
    if temperature is not None and not low <= temperature <= high:
        raise LiveBiaxialError(f"--temperature {temperature:g}: a model's temperature lies within {low:g}..{high:g}")
    model, blob = checkpoint.load_model(checkpoint_path)
    cell = StepCell(model)
    out_path = Path(out) if out else Path("exported") / (Path(blob["path"]).parent.name + ".onnx")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(cell, example_inputs(cell), str(out_path),
                          input_names=list(HARMONY_INPUTS if cell.chords else LISTENING_INPUTS if cell.listens else INPUTS),
                          output_names=list(HARMONY_OUTPUTS if cell.chords else OUTPUTS), dynamo=False, opset_version=17)

    cfg = model.config
    meta = {
        "format": HARMONY_FORMAT if cell.chords else LISTENING_FORMAT if cell.listens else FORMAT,
        "note_window": f"{LOW_NOTE}..{HIGH_NOTE}",
        "steps_per_beat": str(cfg.steps_per_beat),
        "time_sizes": json.dumps(list(cfg.time_sizes)),
        "pitch_sizes": json.dumps(list(cfg.pitch_sizes)),
        "dropout": str(cfg.dropout),
        "state_size": str(cell.state_size),
        "key_memory_steps": str(cfg.key_memory_steps),
        "data_summary": json.dumps(blob.get("data_summary", {})),
        "valid_nll": str(blob.get("best_valid_nll", "")),
        "batches": str(blob["step"]),
        "stages": json.dumps(blob.get("stages", [])),
        "checkpoint_sha256": blob.get("checkpoint_sha256") or checkpoint.file_hash(blob["path"]),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if temperature is not None:
        meta["temperature"] = f"{temperature:g}"
    set_metadata(out_path, meta)

    report = verify(cell, out_path)
    log(f"wrote {out_path} ({out_path.stat().st_size / 1e6:.1f} MB); verified over {VERIFY_STEPS} steps: "
        f"notes identical, max probability difference {report['max_prob_diff']:.2e}")
    return out_path


def set_metadata(path: Path, items: dict[str, str]) -> None:
    """Write metadata entries into an ONNX file (replacing entries of the same key); the graph is untouched."""
    import onnx

    proto = onnx.load(str(path))
    kept = [(e.key, e.value) for e in proto.metadata_props if e.key not in items]
    del proto.metadata_props[:]
    for key, value in kept + list(items.items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "live-biaxial"
    onnx.save(proto, str(path))


def verify(cell: StepCell, path: Path) -> dict:
    """Same seed, same noise: torch and onnxruntime must agree."""
    ort_cell = Cell(path)
    kw = dict(n_steps=VERIFY_STEPS, seed_notes=seed_step(), seed=1234, anti_silence=1.0)
    if cell.listens:  # the player's part: a chord of the seed's, then another, struck each bar
        human = np.zeros((VERIFY_STEPS, N_NOTES, 2), np.float32)
        for t in range(VERIFY_STEPS):
            chord = (60, 64, 67) if t // 16 % 2 == 0 else (57, 60, 65)
            human[t, [p - LOW_NOTE for p in chord], 0] = 1
            human[t, [p - LOW_NOTE for p in chord], 1] = float(t % 16 == 0)
        kw["human"] = human
    follower = lambda: HarmonyFollower(ChordChart.parse("C G | Am F")) if cell.chords else None  # noqa: E731
    torch_step = torch_cell(cell)
    notes_t, probs_t = generate(torch_step, cell.state_size, harmony=follower(), harmony_strength=0.5, **kw)
    notes_o, probs_o = generate(ort_cell, ort_cell.state_size, harmony=follower(), harmony_strength=0.5, **kw)
    diff = float(np.abs(probs_t - probs_o).max())
    if cell.chords:  # the plan of the last step, too
        diff = max(diff, float(np.abs(torch_step.plan - ort_cell.plan).max()))
    if not np.array_equal(notes_t, notes_o) or diff > 1e-5:
        path.unlink(missing_ok=True)
        raise ModelFileError(f"{path}: onnxruntime and torch disagree (max probability difference {diff:.2e}); "
                             "the file was removed")
    return {"max_prob_diff": diff, "notes": int(notes_t[..., 0].sum())}
