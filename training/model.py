"""The biaxial LSTM: one LSTM stack along time (shared by all notes), one along pitch.

Training (``BiaxialLSTM.forward``) runs fused ``nn.LSTM``s over whole segments with teacher
forcing on both axes. Generation (``StepCell``) is one time step with the note-by-note pitch
walk and sampling, written with plain matmuls so that it exports to one ONNX graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .features import N_FEATURES, N_NOTES, NoteFeatures


class BiaxialLSTM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.features = NoteFeatures()
        sizes = (N_FEATURES,) + tuple(config.time_sizes)
        self.time_layers = nn.ModuleList(nn.LSTM(i, o, batch_first=True) for i, o in zip(sizes, sizes[1:]))
        sizes = (config.time_sizes[-1] + 2,) + tuple(config.pitch_sizes)
        self.pitch_layers = nn.ModuleList(nn.LSTM(i, o, batch_first=True) for i, o in zip(sizes, sizes[1:]))
        self.out = nn.Linear(config.pitch_sizes[-1], 2)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, states: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """states (B, T+1, 78, 2) float, steps (B, T+1) int64 -> logits (B, T, 78, 2) of states[:, 1:]."""
        x = self.features(states[:, :-1], steps[:, :-1])  # (B, T, 78, 80)
        B, T = x.shape[:2]
        x = x.permute(0, 2, 1, 3).reshape(B * N_NOTES, T, N_FEATURES)  # notes folded into batch
        for lstm in self.time_layers:
            x = self.drop(lstm(x)[0])  # (B*78, T, H)
        x = x.reshape(B, N_NOTES, T, -1).permute(0, 2, 1, 3)  # (B, T, 78, H)
        target = states[:, 1:]  # (B, T, 78, 2)
        below = F.pad(target[:, :, :-1], (0, 0, 1, 0))  # (B, T, 78, 2): the chosen bits of note n-1
        y = torch.cat([x, below], dim=-1).reshape(B * T, N_NOTES, -1)  # batch x time folded
        for lstm in self.pitch_layers:
            y = self.drop(lstm(y)[0])  # (B*T, 78, P)
        return self.out(y).reshape(B, T, N_NOTES, 2)


def nll_terms(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed negative log-likelihood of the play bits and of the articulate bits.

    logits, target: (..., 78, 2). The articulate bit only counts where the note plays.
    """
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")  # (..., 78, 2)
    play = bce[..., 0].sum()
    artic = (bce[..., 1] * target[..., 0]).sum()
    return play, artic


def loss_per_step(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """NLL (play + articulate) per time step, averaged over batch and time."""
    play, artic = nll_terms(logits, target)
    return (play + artic) / (logits.shape[0] * logits.shape[1])


def _fused(lstm: nn.LSTM) -> tuple[torch.Tensor, torch.Tensor]:
    """An nn.LSTM layer's weights as one matrix over [input, hidden] and one bias."""
    w = torch.cat([lstm.weight_ih_l0, lstm.weight_hh_l0], dim=1).t().contiguous()  # (in+H, 4H)
    return w, (lstm.bias_ih_l0 + lstm.bias_hh_l0)


def _lstm_gates(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """torch's gate order i, f, g, o -> (h, c)."""
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class StepCell(nn.Module):
    """One time step of generation: the graph that ``export-onnx`` writes.

    Inputs
      notes (78, 2) float: the previous step's state (play, articulate)
      step () int64: the previous step's 16th index (feeds the beat inputs)
      state (78, S) float: time-axis LSTM states [h_1, c_1, h_2, c_2, ...], S = 2 * sum(time_sizes)
      noise (78, 2) float: uniform 0..1, one number per sampled bit
      conservativity () float: P(play) is raised to this power (the original's anti-silence)
      temperature () float: logits are divided by it (-> 0: the most likely notes)
      play_bias (78,) float: added to the play logits (a large negative value forbids a note)
    Outputs
      new_notes (78, 2), probs (78, 2) [P(play), P(articulate)], new_state (78, S)
    """

    def __init__(self, model: BiaxialLSTM):
        super().__init__()
        model = model.eval()
        self.features = model.features
        self.time_sizes = list(model.config.time_sizes)
        with torch.no_grad():
            self.time_w = nn.ParameterList()
            self.time_b = nn.ParameterList()
            for lstm in model.time_layers:
                w, b = _fused(lstm)
                self.time_w.append(nn.Parameter(w, requires_grad=False))
                self.time_b.append(nn.Parameter(b, requires_grad=False))
            first = model.pitch_layers[0]
            h_time = self.time_sizes[-1]
            # pitch layer 1 input = [time output (H), play of note below, artic of note below]
            self.p0_time_w = nn.Parameter(first.weight_ih_l0[:, :h_time].t().contiguous(), requires_grad=False)
            self.p0_below_w = nn.Parameter(first.weight_ih_l0[:, h_time:].t().contiguous(), requires_grad=False)
            self.p0_hid_w = nn.Parameter(first.weight_hh_l0.t().contiguous(), requires_grad=False)
            self.p0_b = nn.Parameter(first.bias_ih_l0 + first.bias_hh_l0, requires_grad=False)
            self.pitch_w = nn.ParameterList()
            self.pitch_b = nn.ParameterList()
            for lstm in model.pitch_layers[1:]:
                w, b = _fused(lstm)
                self.pitch_w.append(nn.Parameter(w, requires_grad=False))
                self.pitch_b.append(nn.Parameter(b, requires_grad=False))
            self.out_w = nn.Parameter(model.out.weight.t().contiguous(), requires_grad=False)  # (P, 2)
            self.out_b = nn.Parameter(model.out.bias.clone(), requires_grad=False)
        self.pitch_sizes = list(model.config.pitch_sizes)

    @property
    def state_size(self) -> int:
        return 2 * sum(self.time_sizes)

    def forward(self, notes, step, state, noise, conservativity, temperature, play_bias):
        x = self.features(notes, step)  # (78, 80)
        new_state = []
        offset = 0
        for w, b, size in zip(self.time_w, self.time_b, self.time_sizes):
            h, c = state[:, offset : offset + size], state[:, offset + size : offset + 2 * size]
            offset += 2 * size
            h, c = _lstm_gates(torch.cat([x, h], dim=-1) @ w + b, c)  # (78, H)
            new_state += [h, c]
            x = h
        # the input part of pitch layer 1 for all notes at once: (78, 4*P1)
        pre = x @ self.p0_time_w + self.p0_b
        temp = torch.clamp(temperature, min=1e-4)
        hs = [torch.zeros(1, p) for p in self.pitch_sizes]
        cs = [torch.zeros(1, p) for p in self.pitch_sizes]
        below = torch.zeros(1, 2)
        chosen, probs = [], []
        for n in range(N_NOTES):  # the walk up the pitch axis, sampling as it goes
            gates = pre[n : n + 1] + below @ self.p0_below_w + hs[0] @ self.p0_hid_w
            hs[0], cs[0] = _lstm_gates(gates, cs[0])
            y = hs[0]
            for k, (w, b) in enumerate(zip(self.pitch_w, self.pitch_b), start=1):
                hs[k], cs[k] = _lstm_gates(torch.cat([y, hs[k]], dim=-1) @ w + b, cs[k])
                y = hs[k]
            logits = (y @ self.out_w + self.out_b) / temp  # (1, 2)
            p_play = torch.sigmoid(logits[:, 0] + play_bias[n])
            p_artic = torch.sigmoid(logits[:, 1])
            play = (noise[n, 0] < torch.pow(p_play, conservativity)).float()
            artic = play * (noise[n, 1] < p_artic).float()
            below = torch.stack([play, artic], dim=-1)  # (1, 2)
            chosen.append(below)
            probs.append(torch.stack([p_play, p_artic], dim=-1))
        return torch.cat(chosen, 0), torch.cat(probs, 0), torch.cat(new_state, dim=-1)
