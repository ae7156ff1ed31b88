"""The biaxial LSTM: one LSTM stack along time (shared by all notes), one along pitch.

Training (``BiaxialLSTM.forward``) runs ``FusedLSTM`` layers (nn.LSTM's parameters, matmuls in the run's
precision: lstm.py) over whole segments with teacher forcing on both axes. Generation (``StepCell``) is one time step with the note-by-note pitch
walk and sampling, written with plain matmuls so that it exports to one ONNX graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from live_biaxial.music.chords import QUALITIES

from .features import (CONTEXT, KEY_MEMORY, N_CHORD, N_FEATURES, N_METER, N_NOTES, N_PART, NoteFeatures,
                       key_memory_decay, key_memory_over_time, key_memory_step, meter_features)
from .lstm import FusedLSTM


class _ByteDropoutFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, drop, scale):
        ctx.save_for_backward(drop)
        ctx.scale = scale
        return (x * scale).masked_fill_(drop, 0.0)

    @staticmethod
    def backward(ctx, grad):
        (drop,) = ctx.saved_tensors
        return (grad * ctx.scale).masked_fill_(drop, 0.0), None, None


class ByteDropout(nn.Module):
    """Inverted dropout with its mask drawn from random bytes: p is rounded to 1/256 (0.5 exactly, 0.3 as
    77/256). On a CPU it runs about 3x faster than nn.Dropout, whose Bernoulli draws took a sixth of a
    default training batch (bench/bench_train.py)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.k = int(round(p * 256))  # a byte below k drops its element

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.k == 0:
            return x
        drop = torch.empty(x.shape, dtype=torch.uint8, device=x.device).random_(0, 256) < self.k
        return _ByteDropoutFn.apply(x, drop, 256 / (256 - self.k))


class BiaxialLSTM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.features = NoteFeatures()
        self.n_inputs = (N_FEATURES + (KEY_MEMORY if config.key_memory_steps else 0)
                         + (N_METER + N_PART if config.listens else 0) + (N_CHORD if config.chords else 0))
        sizes = (self.n_inputs,) + tuple(config.time_sizes)
        self.time_layers = nn.ModuleList(FusedLSTM(i, o) for i, o in zip(sizes, sizes[1:]))
        # the pitch axis: [time output, the chosen bits of the note below (, the player's bits at this note)]
        sizes = (config.time_sizes[-1] + 2 + (2 if config.listens else 0),) + tuple(config.pitch_sizes)
        self.pitch_layers = nn.ModuleList(FusedLSTM(i, o) for i, o in zip(sizes, sizes[1:]))
        self.out = nn.Linear(config.pitch_sizes[-1], 2)
        if config.chords:  # the plan: per note, a score for each quality of a chord rooted on the note's class
            self.plan_head = nn.Linear(config.time_sizes[-1], len(QUALITIES))
            nn.init.zeros_(self.plan_head.weight)  # starts at the uniform guess over the 156 chords
            nn.init.zeros_(self.plan_head.bias)
        self.drop = ByteDropout(config.dropout)
        self._init_biases()

    @torch.no_grad()
    def _init_biases(self) -> None:
        """Start off the plateau: forget gates open (bias 1) and P(play) at a typical rate (~5%).

        With torch's default init the stacked model first learns only the output bias, then
        sits for hundreds of batches at the loss of the marginal note rates (measured in
        a one-off study); these two lines take most of that wait away.
        """
        for lstm in list(self.time_layers) + list(self.pitch_layers):
            h = lstm.hidden_size
            lstm.bias_ih_l0[h : 2 * h].fill_(1.0)
            lstm.bias_hh_l0[h : 2 * h].fill_(0.0)
        self.out.bias.copy_(torch.tensor([-3.0, 0.0]))

    def forward(self, states: torch.Tensor, steps: torch.Tensor, inputs: torch.Tensor | None = None,
                human: torch.Tensor | None = None, meter: torch.Tensor | None = None,
                chord: torch.Tensor | None = None, with_plan: bool = False):
        """states (B, T+1, 78, 2) float, steps (B, T+1) int64 -> logits (B, T, 78, 2) of states[:, 1:]
        (with_plan: and the plan head's logits (B, T, 156) of the chord of the beat after each step's).

        inputs (B, T+1, 78, 2): the notes the time axis reads, when not states (see train.with_own_notes);
        the pitch axis always reads the true notes below, as the targets are the true notes.
        A model that listens: steps are positions in the bar, meter (B, T+1, 2) [16ths per bar, per beat],
        human (B, T+1, 78, 2) the player's part; step t is played hearing the player's step t.
        A model that knows chords: chord (B, T+1, 3, 12), step t is played knowing step t's chord (zeros: none)."""
        x = self.time_axis(states if inputs is None else inputs, steps, human, meter, chord)  # (B, T, 78, H)
        B, T = x.shape[:2]
        target = states[:, 1:]  # (B, T, 78, 2)
        below = F.pad(target[:, :, :-1], (0, 0, 1, 0))  # (B, T, 78, 2): the chosen bits of note n-1
        parts = [x, below] + ([human[:, 1:].to(x.dtype)] if self.config.listens else [])
        y = torch.cat(parts, dim=-1).reshape(B * T, N_NOTES, -1)  # batch x time folded
        for lstm in self.pitch_layers:
            y = self.drop(lstm(y)[0])  # (B*T, 78, P)
        logits = self.out(y).reshape(B, T, N_NOTES, 2)
        return (logits, self.plan(x)) if with_plan else logits

    def plan(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (..., 78, H) time-axis outputs -> (..., 156) logits of the next beat's chord, class
        root * 13 + quality: each note scores the qualities rooted on its own pitch class, averaged per class."""
        per_note = self.plan_head(hidden.to(self.plan_head.weight.dtype))  # (..., 78, 13)
        return self.features.class_mean(per_note).flatten(-2)  # (..., 12 * 13)

    def time_axis(self, states: torch.Tensor, steps: torch.Tensor, human: torch.Tensor | None = None,
                  meter: torch.Tensor | None = None, chord: torch.Tensor | None = None) -> torch.Tensor:
        """states (B, T+1, 78, 2), steps (B, T+1) -> the time stack's outputs (B, T, 78, H) for steps 1..T."""
        x = self.features(states[:, :-1], steps[:, :-1])  # (B, T, 78, 80)
        if self.config.key_memory_steps:
            memory = key_memory_over_time(x[..., CONTEXT], key_memory_decay(self.config.key_memory_steps))
            x = torch.cat([x, memory], dim=-1)  # (B, T, 78, 92)
        B, T = x.shape[:2]
        if self.config.listens:
            bar = meter_features(steps[:, :-1], meter[:, :-1], x.dtype)  # (B, T, 5)
            x = torch.cat([x, bar[:, :, None].expand(B, T, N_NOTES, N_METER),
                           self.features.around(human[:, 1:].to(x.dtype))], dim=-1)  # (B, T, 78, n_inputs)
        if self.config.chords:
            if chord is None:  # no chord known
                chord = torch.zeros(B, T + 1, 3, 12, dtype=x.dtype, device=x.device)
            x = torch.cat([x, self.features.chord(chord[:, 1:].to(x.dtype))], dim=-1)  # (B, T, 78, n_inputs)
        x = x.permute(0, 2, 1, 3).reshape(B * N_NOTES, T, self.n_inputs)  # notes folded into batch
        for lstm in self.time_layers:
            x = self.drop(lstm(x)[0])  # (B*78, T, H)
        return x.reshape(B, N_NOTES, T, -1).permute(0, 2, 1, 3)  # (B, T, 78, H)

    @torch.no_grad()
    def walk(self, hidden: torch.Tensor, noise: torch.Tensor, human: torch.Tensor | None = None) -> torch.Tensor:
        """Whole chords drawn up the pitch axis, as generation draws them: hidden (B, T, 78, H) time-axis
        outputs, noise (B, T, 78, 2) uniform -> notes (B, T, 78, 2), every (b, t) walked at once.

        Note n plays if u < P(play | the notes drawn below it), articulates if it plays and u2 < P(artic):
        StepCell's rule at temperature 1, so for the same noise it draws the same notes.
        human (B, T, 78, 2): the player's part at those steps (a model that listens)."""
        B, T, _, H = hidden.shape
        h = hidden.reshape(B * T, N_NOTES, H)
        part = human.reshape(B * T, N_NOTES, 2).to(h.dtype) if self.config.listens else None  # the player's bits
        u = noise.reshape(B * T, N_NOTES, 2)
        state = [None] * len(self.pitch_layers)
        below = torch.zeros(B * T, 2, dtype=hidden.dtype, device=hidden.device)  # the chosen bits of note n-1
        notes = []
        for n in range(N_NOTES):
            parts = [h[:, n], below] + ([part[:, n]] if part is not None else [])
            y = torch.cat(parts, dim=-1)[:, None]  # (B*T, 1, H+2(+2))
            for k, lstm in enumerate(self.pitch_layers):
                y, state[k] = lstm(y, state[k])
            p = torch.sigmoid(self.out(y[:, 0]).float())  # (B*T, 2)
            play = (u[:, n, 0] < p[:, 0]).to(hidden.dtype)
            below = torch.stack([play, (u[:, n, 1] < p[:, 1]).to(hidden.dtype) * play], dim=-1)
            notes.append(below)
        return torch.stack(notes, dim=1).reshape(B, T, N_NOTES, 2)


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


def _fused(lstm: FusedLSTM, with_bias_row: bool = False) -> torch.Tensor:
    """An LSTM layer's weights as one matrix over [input, hidden(, 1)]: (in + H (+1), 4H).

    With ``with_bias_row`` the biases become the last row, to be multiplied by a constant 1.
    """
    rows = [lstm.weight_ih_l0.t(), lstm.weight_hh_l0.t()]
    if with_bias_row:
        rows.append((lstm.bias_ih_l0 + lstm.bias_hh_l0)[None, :])
    return torch.cat(rows, dim=0).contiguous()


def _lstm_gates(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """torch's gate order i, f, g, o -> (h, c)."""
    i, f, g, o = gates.split(gates.shape[-1] // 4, dim=-1)  # one Split node in ONNX
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _logit(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p) - torch.log1p(-p)


class StepCell(nn.Module):
    """One time step of generation: the graph that ``export-onnx`` writes.

    Inputs
      notes (78, 2) float: the previous step's state (play, articulate)
      step () int64: the previous step's 16th index (feeds the beat inputs)
      state (78, S) float: time-axis LSTM states [h_1, c_1, h_2, c_2, ...], S = 2 * sum(time_sizes)
        (+ 12 columns of key memory at the end when the model has one)
      noise (78, 2) float: uniform 0..1, one number per sampled bit
      conservativity () float: P(play) is raised to this power (the original's anti-silence)
      temperature () float: logits are divided by it (-> 0: the most likely notes)
      play_bias (78,) float: added to the play logits (-inf forbids a note)
    and, for a model that listens (``step`` is then the previous step's position in its bar):
      human (78, 2) float: the player's part at the step being played (held, struck)
      meter (2,) int64: the previous step's bar: [16ths per bar, 16ths per beat]
    and, for a model that knows chords:
      chord (3, 12) float: the chord of the step being played [pitch classes, root, bass] (zeros: none)
    Outputs
      new_notes (78, 2), probs (78, 2) [P(play), P(articulate)], new_state (78, S)
      (a model that knows chords) plan (156,): logits of the chord of the beat after this step's

    Sampling: a note plays if u < P(play) ** c, i.e. if its raw play logit exceeds
    temperature * (logit(u ** (1/c)) - bias) - b_out; it articulates if it plays and u2 < P(artic).
    The thresholds are computed for all notes at once, so the walk up the pitch axis (the part
    that cannot be batched) is only matmuls, LSTM gates and one comparison per note.
    """

    def __init__(self, model: BiaxialLSTM):
        super().__init__()  # copies the weights; the model's own train/eval mode is left alone
        cfg = model.config
        self.features = model.features
        self.time_sizes = list(cfg.time_sizes)
        self.pitch_sizes = list(cfg.pitch_sizes)
        self.key_memory_decay = key_memory_decay(cfg.key_memory_steps) if cfg.key_memory_steps else None
        self.listens = cfg.listens
        self.chords = cfg.chords
        frozen = lambda t: nn.Parameter(t.detach().clone().contiguous(), requires_grad=False)  # noqa: E731
        with torch.no_grad():
            self.time_w = nn.ParameterList(frozen(_fused(l)) for l in model.time_layers)  # (in+H, 4H)
            self.time_b = nn.ParameterList(frozen(l.bias_ih_l0 + l.bias_hh_l0) for l in model.time_layers)
            first = model.pitch_layers[0]
            h_time = self.time_sizes[-1]
            # pitch layer 1: the time-output part for all notes at once; [below, h] per note
            self.p0_time_w = frozen(first.weight_ih_l0[:, :h_time].t())  # (H, 4P1)
            self.p0_b = frozen(first.bias_ih_l0 + first.bias_hh_l0)
            self.p0_w = frozen(torch.cat([first.weight_ih_l0[:, h_time : h_time + 2].t(), first.weight_hh_l0.t()]))  # (2+P1, 4P1)
            if cfg.listens:  # the player's bits at each note: known before the walk, so added for all notes at once
                self.p0_human_w = frozen(first.weight_ih_l0[:, h_time + 2 :].t())  # (2, 4P1)
            self.pitch_w = nn.ParameterList(frozen(_fused(l, with_bias_row=True)) for l in model.pitch_layers[1:])
            self.out_w = frozen(model.out.weight.t())  # (P, 2)
            self.out_b = frozen(model.out.bias)
            if cfg.chords:
                self.plan_w = frozen(model.plan_head.weight.t())  # (H, 13)
                self.plan_b = frozen(model.plan_head.bias)

    @property
    def state_size(self) -> int:
        return 2 * sum(self.time_sizes) + (KEY_MEMORY if self.key_memory_decay is not None else 0)

    def forward(self, notes, step, state, noise, conservativity, temperature, play_bias, human=None, meter=None,
                chord=None):
        x = self.features(notes, step)  # (78, 80)
        new_state = []
        if self.key_memory_decay is not None:
            memory = key_memory_step(state[:, -KEY_MEMORY:], x[:, CONTEXT], self.key_memory_decay)  # (78, 12)
            x = torch.cat([x, memory], dim=-1)  # (78, 92)
        if self.listens:
            bar = meter_features(step, meter, x.dtype)[None].expand(N_NOTES, N_METER)  # (78, 5)
            x = torch.cat([x, bar, self.features.around(human)], dim=-1)  # (78, n_inputs)
        if self.chords:
            x = torch.cat([x, self.features.chord(chord)], dim=-1)  # (78, n_inputs)
        offset = 0
        for w, b, size in zip(self.time_w, self.time_b, self.time_sizes):
            h, c = state[:, offset : offset + size], state[:, offset + size : offset + 2 * size]
            offset += 2 * size
            h, c = _lstm_gates(torch.cat([x, h], dim=-1) @ w + b, c)  # (78, H)
            new_state += [h, c]
            x = h
        pre = x @ self.p0_time_w + self.p0_b  # (78, 4P1)
        if self.listens:
            pre = pre + human @ self.p0_human_w
        pre = pre.split(1)  # 78 x (1, 4P1)

        temp = torch.clamp(temperature, min=1e-4)
        u = torch.clamp(noise, 1e-7, 1 - 1e-7)  # (78, 2)
        thr_play = temp * (_logit(torch.pow(u[:, 0], 1.0 / conservativity)) - play_bias)
        thr_artic = temp * _logit(u[:, 1])
        thr = (torch.stack([thr_play, thr_artic], dim=-1) - self.out_b).split(1)  # 78 x (1, 2) on raw logits

        one = torch.ones(1, 1)
        hs = [torch.zeros(1, p) for p in self.pitch_sizes]
        cs = [torch.zeros(1, p) for p in self.pitch_sizes]
        below = torch.zeros(1, 2)
        chosen, raw = [], []
        for n in range(N_NOTES):  # the walk up the pitch axis, sampling as it goes
            hs[0], cs[0] = _lstm_gates(pre[n] + torch.cat([below, hs[0]], dim=-1) @ self.p0_w, cs[0])
            for k, w in enumerate(self.pitch_w, start=1):
                hs[k], cs[k] = _lstm_gates(torch.cat([hs[k - 1], hs[k], one], dim=-1) @ w, cs[k])
            logits = hs[-1] @ self.out_w  # (1, 2) without the output bias
            hit = (logits > thr[n]).float()  # (1, 2): [plays, articulates-if-it-plays]
            below = hit * hit[:, :1]  # articulate implies play
            chosen.append(below)
            raw.append(logits)
        logits = (torch.cat(raw) + self.out_b) / temp  # (78, 2)
        probs = torch.sigmoid(logits + torch.stack([play_bias, torch.zeros_like(play_bias)], dim=-1))
        if self.key_memory_decay is not None:
            new_state.append(memory)
        outputs = (torch.cat(chosen), probs, torch.cat(new_state, dim=-1))
        if self.chords:  # x: the time axis's output (78, H)
            outputs += (self.features.class_mean(x @ self.plan_w + self.plan_b).reshape(-1),)  # (156,)
        return outputs
