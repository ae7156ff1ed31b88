"""An exponential moving average of a model's weights, the weights that are validated and kept best.

With ``train --average DECAY`` every optimizer step moves the average toward the weights just learned;
validation, best.pt and so the exported model use the average, which is smoother than any single step's
weights (Polyak averaging). The decay ramps up from 0 over the first steps, so the average does not
remember the initialisation: decay_t = min(DECAY, (1 + t) / (10 + t)).
"""

from __future__ import annotations

import contextlib

import torch


class WeightAverage:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.weights[k].mul_(d).add_(v, alpha=1 - d)
            else:
                self.weights[k].copy_(v)

    @contextlib.contextmanager
    def swapped_into(self, model: torch.nn.Module):
        """Within the block the model holds the averaged weights; its own come back after."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.weights)
        try:
            yield model
        finally:
            model.load_state_dict(own)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "weights": self.weights}

    def load_state_dict(self, state: dict) -> None:
        self.decay, self.updates = state["decay"], state["updates"]
        self.weights = {k: v.clone() for k, v in state["weights"].items()}
