"""An LSTM layer for training whose matmuls run in the precision the CPU is fastest at.

``FusedLSTM`` is a drop-in for a one-layer ``nn.LSTM(batch_first=True)``: the same parameters under the
same names (so checkpoints, the export and ``from_onnx`` are unchanged), the same gate order (i, f, g, o),
the same outputs. Where it differs is how it computes:

- the input projection of all steps is one matmul (B*T, in) x (in, 4H) before the recurrence;
- the recurrence is one autograd Function with a hand-written backward (BPTT): per step one
  (B, H) x (H, 4H) matmul forward and one (B, 4H) x (4H, H) backward, the gates' elementwise work in
  fp32; the gradient of W_hh over all steps is one matmul after the loop;
- with ``compute_dtype=torch.bfloat16`` every matmul takes bf16 operands (fp32 accumulation inside the
  kernel) and what only feeds matmuls (the input projections, h, the gates' gradient) is kept in bf16,
  which halves the memory traffic; the master weights, their gradients, the cell state and the gates
  stay fp32.

On a CPU with AVX-512 BF16 or AMX a bf16 matmul runs 3-5x faster than an fp32 one (``bench/bench_train.py``
measures it), and oneDNN's own LSTM refuses bf16 on some of them. Where torch's kernel is faster (it fuses
the elementwise work), ``kernel = "onednn"`` runs it on the same parameters: ``precision.fastest_kernel``
measures which.
"""

from __future__ import annotations

import torch
from torch import nn


def _tanh(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """tanh(x) as 2 sigmoid(2x) - 1 (the same to 2e-7): torch's CPU sigmoid runs about 3x faster than its tanh."""
    return torch.sigmoid(x * 2, out=out).mul_(2).sub_(1)


class _Recurrence(torch.autograd.Function):
    """The recurrence of one layer over all steps.

    xw (T, B, 4H) in the compute dtype: the input projections with the bias; w_hh (4H, H), h0, c0 (B, H) fp32
    -> ys (T, B, H) fp32 outputs, c_T (B, H) fp32. In bf16 the gates' pre-activations come out of the bf16
    matmul (xw + h W, rounded once, as under autocast); the gates themselves, the cell state and the outputs
    are fp32, and only the matmul operands (h, and the gates' gradient, which only feeds matmuls) are bf16."""

    @staticmethod
    def forward(ctx, xw, w_hh, h0, c0):
        T, B, H4 = xw.shape
        H, dt = H4 // 4, xw.dtype
        w = w_hh.to(dt).t().contiguous()  # (H, 4H)
        ys = h0.new_empty(T, B, H)
        hs = xw.new_empty(T + 1, B, H)  # h_0 .. h_T in the compute dtype: the matmul operands, kept for backward
        hs[0] = h0
        acts = h0.new_empty(T, B, H4)  # sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) per step
        cs = h0.new_empty(T, B, H)  # the cell state after each step
        tcs = h0.new_empty(T, B, H)  # and its tanh
        c = c0
        for t in range(T):
            gates = torch.addmm(xw[t], hs[t], w).float()  # (B, 4H); a no-op .float() in fp32
            gates[:, 2 * H : 3 * H] *= 2  # tanh(x) = 2 sigmoid(2x) - 1: one sigmoid for all four gates
            a = torch.sigmoid(gates, out=acts[t])  # sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            g.mul_(2).sub_(1)
            c = torch.addcmul(f * c, i, g, out=cs[t])
            h = torch.mul(o, _tanh(c, out=tcs[t]), out=ys[t])
            hs[t + 1] = h
        ctx.save_for_backward(w_hh, c0, hs, acts, cs, tcs)
        return ys, c.clone()

    @staticmethod
    def backward(ctx, dys, dc_last):
        w_hh, c0, hs, acts, cs, tcs = ctx.saved_tensors
        T, B, H = cs.shape
        dt = hs.dtype
        w = w_hh.to(dt).contiguous()  # (4H, H): dgates @ w_hh is the gradient of h
        dgates = hs.new_empty(T, B, 4 * H)  # in the compute dtype: it only feeds matmuls
        dh = torch.zeros_like(c0)
        dc = dc_last.clone() if dc_last is not None else torch.zeros_like(c0)
        for t in range(T - 1, -1, -1):
            a = acts[t]
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            c_prev = cs[t - 1] if t else c0
            tc = tcs[t]
            dh += dys[t]
            dc.addcmul_(dh * o, 1 - tc * tc)
            d = dgates[t]
            torch.mul(dc * g, i * (1 - i), out=d[:, :H])  # i
            torch.mul(dc * c_prev, f * (1 - f), out=d[:, H : 2 * H])  # f
            torch.mul(dc * i, 1 - g * g, out=d[:, 2 * H : 3 * H])  # g
            torch.mul(dh * tc, o * (1 - o), out=d[:, 3 * H :])  # o
            dc *= f
            dh = torch.mm(d, w).float()  # (B, H)
        flat = dgates.reshape(T * B, 4 * H)
        dw_hh = torch.mm(flat.t(), hs[:-1].reshape(T * B, H)).float()  # (4H, H), all steps in one matmul
        return dgates, dw_hh, dh, dc


KERNELS = ("onednn", "fused")


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
        # "onednn": torch's own LSTM kernel (nn.LSTM's; oneDNN on a CPU, cuDNN on a GPU), under autocast for
        # bf16; "fused": this module's recurrence. Training picks by measuring (precision.fastest_kernel).
        self.kernel = "onednn"

    def _onednn(self, x: torch.Tensor, state):
        """nn.LSTM's computation on these parameters (oneDNN on a CPU, cuDNN on a GPU); bf16 by autocast."""
        B = x.shape[0]
        if state is None:
            zeros = x.new_zeros(1, B, self.hidden_size, dtype=torch.float32)
            state = (zeros, zeros)
        weights = [self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0]
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.compute_dtype == torch.bfloat16):
            # (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
            y, h, c = torch._VF.lstm(x, state, weights, True, 1, 0.0, self.training, False, True)
        return y.float(), (h.float(), c.float())

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        if self.kernel == "onednn":
            return self._onednn(x, state)
        B, T, _ = x.shape
        H, dt = self.hidden_size, self.compute_dtype
        bias = (self.bias_ih_l0 + self.bias_hh_l0).to(dt)  # (4H,)
        x_t = x.transpose(0, 1).reshape(T * B, -1)  # time major: (T*B, in)
        xw = torch.addmm(bias, x_t.to(dt), self.weight_ih_l0.to(dt).t())  # (T*B, 4H): all steps in one matmul
        if state is None:
            h0 = c0 = x.new_zeros(B, H, dtype=torch.float32)
        else:
            h0, c0 = state[0][0].float(), state[1][0].float()
        ys, c = _Recurrence.apply(xw.reshape(T, B, 4 * H), self.weight_hh_l0, h0, c0)
        y = ys.transpose(0, 1)  # (B, T, H)
        return y, (ys[-1][None], c[None])


def set_compute_dtype(model: nn.Module, dtype: torch.dtype, kernel: str = "onednn") -> None:
    """Every FusedLSTM in ``model`` computes its matmuls with operands of ``dtype``, with ``kernel``
    ("fused": this module's recurrence; "onednn": torch's LSTM kernel)."""
    for m in model.modules():
        if isinstance(m, FusedLSTM):
            m.compute_dtype, m.kernel = dtype, kernel
