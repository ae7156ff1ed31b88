"""Config dataclasses: a ModelConfig is saved inside every checkpoint and every exported model."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class ModelConfig:
    time_sizes: tuple[int, ...] = (300, 300)  # LSTM stack along time (per note)
    pitch_sizes: tuple[int, ...] = (100, 50)  # LSTM stack along pitch (per step)
    dropout: float = 0.5
    steps_per_beat: int = 4  # 4 = one step per 16th note
    key_memory_steps: int = 0  # time constant of the key memory inputs in steps; 0 = none (the original's 80 inputs)
    listens: bool = False  # the player's part and the meter are inputs (features.py); False = a solo model
    chords: bool = False  # the chord is an input and a plan head predicts the next beat's chord (needs listens)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        for k in ("time_sizes", "pitch_sizes"):
            d[k] = tuple(d[k])
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


@dataclasses.dataclass
class TrainConfig:
    batch_size: int = 10
    segment_steps: int = 128
    segment_start_multiple: int = 16  # segments start on a bar line (4 beats)
    optimizer: str = "adam"  # "adam" or "adadelta" (the original's)
    lr: float = 1e-3  # Adam only; AdaDelta uses lr=1.0
    transpose: int = 0  # random transposition in -transpose..+transpose semitones
    minor_weight: float = 1.0  # a piece in a minor key is drawn this many times as often as a major one
    home_key: bool = False  # every piece moved to C major / A minor (its own key) before segments are drawn
    own_notes: float = 0.0  # share of input steps drawn from the model's own predictions (scheduled sampling)
    batches: int = 10000
    eval_every: int = 100
    sample_every: int = 500
    checkpoint_every: int = 100
    seed: int = 0
    chord_dropout: float = 0.3  # share of segments a model that knows chords plays with no chord given
    plan_weight: float = 0.1  # weight of the plan head's cross-entropy beside the notes' NLL
    average: float = 0.0  # decay of the weights' moving average that is validated and kept (0 = none)
    precision: str = "auto"  # the matmuls' precision, "fp32" or "bf16" once resolved (precision.py); --resume keeps it
    threads: int = 0  # torch CPU threads (0 = torch's default); --resume keeps the run's unless told otherwise

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """A checkpoint's train_config (older ones said bf16: True/False for bf16 autocast)."""
        d = dict(d)
        if "bf16" in d and "precision" not in d:
            d["precision"] = "bf16" if d.pop("bf16") else "fp32"
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})
