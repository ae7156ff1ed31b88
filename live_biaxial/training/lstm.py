"""An LSTM layer for training whose matmuls run in the precision the CPU is fastest at.

``FusedLSTM`` is a drop-in for a one-layer ``nn.LSTM(batch_first=True)``: the same parameters under the
same names (so checkpoints, the export and ``from_onnx`` are unchanged), the same gate order (i, f, g, o),
the same outputs. Where it differs is how it computes:

- the input projection of all steps is one matmul (B*T, in) x (in, 4H) before the recurrence;
- the recurrence is one autograd Function with a hand-written backward (BPTT): per step one
  (B, H) x (H, 4H) matmul forward and one (B, 4H) x (4H, H) backward, the gates' elementwise work in
  fp32; the gradient of W_hh over all steps is one matmul after the loop;
- with ``compute_dtype=torch.bfloat16`` every matmul takes bf16 operands (fp32 accumulation inside the
  kernel), while the master weights, their gradients, the cell state and the gates stay fp32.

On a CPU with AVX-512 BF16 or AMX a bf16 matmul runs 3-5x faster than an fp32 one
(``bench/bench_train.py`` measures it), which oneDNN's own LSTM does not use on every CPU.
"""

from __future__ import annotations

import torch
from torch import nn


class _Recurrence(torch.autograd.Function):
    """xw (T, B, 4H) fp32 input projections (bias included), w_hh (4H, H), h0, c0 (B, H) fp32 -> y (T, B, H), c_T."""

    @staticmethod
    def forward(ctx, xw, w_hh, h0, c0, compute_dtype):
        T, B, H4 = xw.shape
        H = H4 // 4
        w = w_hh.to(compute_dtype).t().contiguous()  # (H, 4H)
        ys = xw.new_empty(T, B, H)
        acts = xw.new_empty(T, B, H4)  # sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) per step
        cs = xw.new_empty(T, B, H)  # the cell state after each step
        h, c = h0, c0
        for t in range(T):
            if compute_dtype == torch.float32:
                gates = torch.addmm(xw[t], h, w)  # (B, 4H)
            else:
                gates = xw[t] + (h.to(compute_dtype) @ w).float()
            a = acts[t]
            torch.sigmoid(gates[:, : 2 * H], out=a[:, : 2 * H])
            torch.tanh(gates[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])
            torch.sigmoid(gates[:, 3 * H :], out=a[:, 3 * H :])
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            c = torch.addcmul(f * c, i, g, out=cs[t])
            h = torch.mul(o, torch.tanh(c), out=ys[t])
        ctx.save_for_backward(w_hh, h0, c0, ys, acts, cs)
        ctx.compute_dtype = compute_dtype
        return ys, c.clone()

    @staticmethod
    def backward(ctx, dys, dc_last):
        w_hh, h0, c0, ys, acts, cs = ctx.saved_tensors
        dt = ctx.compute_dtype
        T, B, H = ys.shape
        w = w_hh.to(dt).contiguous()  # (4H, H): dgates @ w_hh is the gradient of h
        dgates = acts.new_empty(T, B, 4 * H)
        dh = torch.zeros_like(h0)
        dc = dc_last.clone() if dc_last is not None else torch.zeros_like(c0)
        for t in range(T - 1, -1, -1):
            a = acts[t]
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            c_prev = cs[t - 1] if t else c0
            tc = torch.tanh(cs[t])
            dh = dh + dys[t]
            dc = dc + dh * o * (1 - tc * tc)
            d = dgates[t]
            torch.mul(dc * g, i * (1 - i), out=d[:, :H])  # i
            torch.mul(dc * c_prev, f * (1 - f), out=d[:, H : 2 * H])  # f
            torch.mul(dc * i, 1 - g * g, out=d[:, 2 * H : 3 * H])  # g
            torch.mul(dh * tc, o * (1 - o), out=d[:, 3 * H :])  # o
            dc = dc * f
            dh = (d.to(dt) @ w).float()  # (B, H)
        h_prev = torch.cat([h0[None], ys[:-1]])  # (T, B, H)
        dw_hh = (dgates.reshape(T * B, 4 * H).t().to(dt) @ h_prev.reshape(T * B, H).to(dt)).float()  # (4H, H)
        return dgates, dw_hh, dh, dc, None


class FusedLSTM(nn.Module):
    """One LSTM layer, batch first: x (B, T, in) [, (h0, c0) each (1, B, H)] -> y (B, T, H), (h_T, c_T).

    ``compute_dtype`` (torch.float32 or torch.bfloat16) is the matmuls' operand type; set it with
    ``set_compute_dtype`` on a whole model (the precision is chosen per run, not per layer)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        reference = nn.LSTM(input_size, hidden_size, batch_first=True)  # torch's own initialisation
        self.weight_ih_l0 = nn.Parameter(reference.weight_ih_l0.detach().clone())  # (4H, in)
        self.weight_hh_l0 = nn.Parameter(reference.weight_hh_l0.detach().clone())  # (4H, H)
        self.bias_ih_l0 = nn.Parameter(reference.bias_ih_l0.detach().clone())  # (4H,)
        self.bias_hh_l0 = nn.Parameter(reference.bias_hh_l0.detach().clone())  # (4H,)
        self.compute_dtype = torch.float32

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        B, T, _ = x.shape
        H, dt = self.hidden_size, self.compute_dtype
        bias = self.bias_ih_l0 + self.bias_hh_l0
        x_t = x.transpose(0, 1).reshape(T * B, -1)  # time major: (T*B, in)
        xw = (x_t.to(dt) @ self.weight_ih_l0.to(dt).t()).float() + bias  # (T*B, 4H), one matmul for all steps
        if state is None:
            h0 = c0 = x.new_zeros(B, H, dtype=torch.float32)
        else:
            h0, c0 = state[0][0].float(), state[1][0].float()
        ys, c = _Recurrence.apply(xw.reshape(T, B, 4 * H), self.weight_hh_l0, h0, c0, dt)
        y = ys.transpose(0, 1)  # (B, T, H)
        return y, (ys[-1][None], c[None])


def set_compute_dtype(model: nn.Module, dtype: torch.dtype) -> None:
    """Every FusedLSTM in ``model`` computes its matmuls with operands of ``dtype``."""
    for m in model.modules():
        if isinstance(m, FusedLSTM):
            m.compute_dtype = dtype
