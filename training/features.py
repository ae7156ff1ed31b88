"""The 80 inputs per note, built from the previous step's note state.

One function, ``note_features``, serves training (all steps at once) and the ONNX export
(one step inside the graph). It uses only constant gathers, matmuls and elementwise ops so
that it exports to ONNX as is.

Per note n (index 0..77 in the window MIDI 24..101), in order:
  [0]      position n
  [1:13]   pitch class one-hot (n mod 12; index 0 is a C)
  [13:63]  (play, articulate) of notes n-12..n+12 at the previous step, zeros outside
  [63:75]  count of playing notes per pitch class, rotated so index 0 is n's own class
  [75:79]  beat: bits 0..3 of the step index, mapped to -1/+1
  [79]     constant 0

With a key memory (``ModelConfig.key_memory_steps`` > 0) each note gets 12 more inputs [80:92]:
the [63:75] context averaged over the past with an exponential decay of that many steps, so the
time axis sees which pitch classes have been sounding for bars, not just at the last step. The
original's inputs only reach one step back, and its generated music wanders off its key.

A model that listens (``ModelConfig.listens``) gets, after those, per note:
  [+0:+5]   the meter (``meter_features``): bar start, beat start, compound, triple, phase in the bar,
            for the step the beat inputs describe; [75:79] are then bits 0..3 of its position in the bar
  [+5:+67]  the player's part at the step being played (``PartFeatures``): (held, struck) of the
            player's notes n-12..n+12 and the player's notes per pitch class, rotated to n's class

A model that knows the chord (``ModelConfig.chords``) gets, last, per note (``chord_features``):
  [+0:+12]  the chord's pitch classes, rotated so index 0 is n's own class ([+0]: n is a chord tone)
  [+12:+24] its root, rotated likewise   [+24:+36] its bass, rotated likewise
  [+36]     1 where a chord is known, 0 where none is (all the others are then 0 too)
"""

from __future__ import annotations

import torch

N_NOTES = 78
N_FEATURES = 80
VICINITY = 12  # notes each side
CONTEXT = slice(63, 75)  # the pitch-class counts in the 80 inputs
KEY_MEMORY = 12  # inputs added by the key memory
N_METER = 5  # inputs of the meter
N_PART = 2 * (2 * VICINITY + 1) + 12  # inputs of the player's part: its notes around n, its pitch classes
N_CHORD = 3 * 12 + 1  # inputs of the chord: pitch classes, root, bass (each rotated to n), known


def _constants(device=None):
    n = torch.arange(N_NOTES, device=device)
    static = torch.zeros(N_NOTES, 13, device=device)  # position + pitch class one-hot
    static[:, 0] = n.float()
    static[n, 1 + n % 12] = 1.0
    # gather index into the state padded by 12 on each side: note n sees padded[n .. n+24]
    vicinity_idx = n[:, None] + torch.arange(2 * VICINITY + 1, device=device)[None, :]  # (78, 25)
    class_onehot = torch.zeros(N_NOTES, 12, device=device)  # (78, 12) note -> its pitch class
    class_onehot[n, n % 12] = 1.0
    rotate_idx = (n[:, None] % 12 + torch.arange(12, device=device)[None, :]) % 12  # (78, 12)
    beat_div = torch.tensor([1, 2, 4, 8], device=device)
    return static, vicinity_idx, class_onehot, rotate_idx, beat_div


class NoteFeatures(torch.nn.Module):
    """state (..., 78, 2) float, step (...) int64 -> features (..., 78, 80)."""

    def __init__(self):
        super().__init__()
        static, vicinity_idx, class_onehot, rotate_idx, beat_div = _constants()
        self.register_buffer("static", static, persistent=False)
        self.register_buffer("vicinity_idx", vicinity_idx, persistent=False)
        self.register_buffer("class_onehot", class_onehot, persistent=False)
        self.register_buffer("rotate_idx", rotate_idx, persistent=False)
        self.register_buffer("beat_div", beat_div, persistent=False)

    def around(self, state: torch.Tensor) -> torch.Tensor:
        """state (..., 78, 2) -> (..., 78, 62): the (play, articulate) of notes n-12..n+12 and the playing
        notes per pitch class, rotated so index 0 is n's own class."""
        lead = state.shape[:-2]
        pad = torch.zeros(lead + (VICINITY, 2), dtype=state.dtype, device=state.device)
        padded = torch.cat([pad, state, pad], dim=-2)  # (..., 102, 2)
        vicinity = padded[..., self.vicinity_idx, :]  # (..., 78, 25, 2)
        vicinity = vicinity.reshape(lead + (N_NOTES, 50))
        counts = state[..., 0] @ self.class_onehot  # (..., 12) playing notes per class
        context = counts[..., self.rotate_idx]  # (..., 78, 12)
        return torch.cat([vicinity, context], dim=-1)

    def chord(self, chord: torch.Tensor) -> torch.Tensor:
        """chord (..., 3, 12) [pitch classes, root, bass] (zeros: none) -> (..., 78, 37) ``chord_features``."""
        lead = chord.shape[:-2]
        rows = [chord[..., r, :][..., self.rotate_idx] for r in range(3)]  # 3 x (..., 78, 12), seen from each note
        rotated = torch.cat(rows, dim=-1)  # (..., 78, 36)
        known = (chord[..., 0, :].sum(dim=-1, keepdim=True) > 0).to(chord.dtype)  # (..., 1)
        return torch.cat([rotated, known[..., None, :].expand(lead + (N_NOTES, 1))], dim=-1)

    def class_mean(self, per_note: torch.Tensor) -> torch.Tensor:
        """per_note (..., 78, K) -> (..., 12, K): the mean over the notes of each pitch class."""
        weights = self.class_onehot.t() / self.class_onehot.sum(dim=0)[:, None]  # (12, 78)
        return weights.to(per_note.dtype) @ per_note

    def forward(self, state: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        lead = state.shape[:-2]
        near = self.around(state)  # (..., 78, 62)
        bits = torch.remainder(torch.div(step[..., None], self.beat_div, rounding_mode="floor"), 2)
        beat = (2 * bits - 1).to(state.dtype)  # (..., 4)
        beat = beat[..., None, :].expand(lead + (N_NOTES, 4))
        static = self.static.expand(lead + (N_NOTES, 13))
        zero = torch.zeros(lead + (N_NOTES, 1), dtype=state.dtype, device=state.device)
        return torch.cat([static, near, beat, zero], dim=-1)  # (..., 78, 80)


def meter_features(position: torch.Tensor, meter: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """position (...) int64: 16ths since the bar line; meter (..., 2) int64: [16ths per bar, 16ths per beat]
    -> (..., 5) in -1..1: on the bar line, on a beat, a compound meter (beats of three 8ths), a triple one
    (three beats a bar), the phase in the bar (-1 at the bar line, towards +1 at its end)."""
    bar, beat = meter[..., 0], meter[..., 1]
    sign = lambda b: 2 * b.to(dtype) - 1  # noqa: E731
    return torch.stack([sign(position == 0), sign(torch.remainder(position, beat) == 0),
                        sign(torch.remainder(beat, 3) == 0), sign(bar == 3 * beat),
                        2 * position.to(dtype) / bar.to(dtype) - 1], dim=-1)


def key_memory_decay(steps: int) -> float:
    """The per-step decay of a memory with a time constant of ``steps`` steps."""
    return 1.0 - 1.0 / steps


def key_memory_step(memory: torch.Tensor, context: torch.Tensor, decay: float) -> torch.Tensor:
    """One step: memory, context (78, 12) -> the new memory (78, 12), which is also the input."""
    return decay * memory + (1.0 - decay) * context


def key_memory_over_time(context: torch.Tensor, decay: float) -> torch.Tensor:
    """context (B, T, 78, 12) -> memory (B, T, 78, 12): ``key_memory_step`` from zero along T, as one matmul."""
    T = context.shape[1]
    t = torch.arange(T, device=context.device)
    lag = (t[:, None] - t[None, :]).to(context.dtype)  # (T, T): t - s
    weights = torch.where(lag >= 0, (1.0 - decay) * decay ** lag.clamp(min=0), torch.zeros_like(lag))  # (T, T)
    return torch.einsum("ts,bsnk->btnk", weights, context)
