"""The precision a training run computes in: bf16 matmuls where the hardware runs them faster, else fp32.

``--precision auto`` measures: on a CPU it times one matmul of the time axis's shape in fp32 and in bf16
(about 50 ms) and takes bf16 only where it is clearly faster; on a CUDA GPU it takes bf16 where the GPU
has it. Either way the master weights, the optimizer's state, the loss and the LSTM cell state stay fp32
(``lstm.FusedLSTM``); fp32 on a GPU lets its matmuls use TF32. The LSTM kernel is measured too
(``fastest_kernel``): torch's own LSTM kernel where it is faster, FusedLSTM's recurrence elsewhere.
"""

from __future__ import annotations

import time

import torch

from live_biaxial.errors import LiveBiaxialError

from .lstm import KERNELS, FusedLSTM, set_compute_dtype

PRECISIONS = ("auto", "fp32", "bf16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
AUTO_MIN_GAIN = 1.3  # auto takes bf16 where its matmul runs at least this much faster than fp32


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bf16 matmuls natively (AVX-512 BF16 or AMX), as oneDNN sees it."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def matmul_gflops(dtype: torch.dtype, shape: tuple[int, int, int] = (780, 300, 1200), device: str = "cpu",
                  seconds: float = 0.05) -> float:
    """The rate of an (m, k) x (k, n) matmul in ``dtype`` on ``device``, in GFLOP/s (about ``seconds`` of timing)."""
    m, k, n = shape
    a = torch.randn(m, k, device=device).to(dtype)
    b = torch.randn(k, n, device=device).to(dtype)
    for _ in range(2):  # warm up (oneDNN picks and caches its kernel)
        a @ b
    runs, t0 = 0, time.perf_counter()
    while True:
        a @ b
        runs += 1
        if device != "cpu":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and runs >= 3:
            return 2 * m * k * n * runs / elapsed / 1e9


def resolve(requested: str, device: torch.device, bf16_supported: bool | None = None) -> str:
    """"fp32" or "bf16" for ``requested`` (auto, fp32, bf16) on ``device``. bf16 asked of hardware without it
    is a LiveBiaxialError. ``bf16_supported`` overrides what the hardware says (for tests)."""
    if requested not in PRECISIONS:
        raise LiveBiaxialError(f"--precision {requested}: choose one of {', '.join(PRECISIONS)}")
    if bf16_supported is None:
        bf16_supported = torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_bf16()
    if requested == "bf16" and not bf16_supported:
        where = "GPU" if device.type == "cuda" else "CPU (no AVX-512 BF16 or AMX)"
        raise LiveBiaxialError(f"--precision bf16: this {where} has no bf16 matmuls; train with --precision fp32 or auto")
    if requested != "auto":
        return requested
    if not bf16_supported:
        return "fp32"
    if device.type == "cuda":
        return "bf16"
    gain = matmul_gflops(torch.bfloat16) / matmul_gflops(torch.float32)
    return "bf16" if gain >= AUTO_MIN_GAIN else "fp32"


def fastest_kernel(precision: str, device: torch.device, rows: int, inputs: int, hidden: int, steps: int = 16) -> str:
    """The LSTM kernel (lstm.KERNELS) that runs one training step of a layer of this shape fastest here in
    ``precision``, measured (about a second): torch's own (oneDNN; it refuses bf16 on some CPUs) or FusedLSTM's."""
    if device.type == "cuda":
        return "onednn"  # cuDNN
    times = {}
    for kernel in KERNELS:
        torch.manual_seed(0)
        layer = FusedLSTM(inputs, hidden)
        set_compute_dtype(layer, DTYPES[precision], kernel)
        x = torch.randn(rows, steps, inputs, requires_grad=True)
        try:
            runs = []
            for _ in range(3):  # the first warms up
                t0 = time.perf_counter()
                layer(x)[0].sum().backward()
                runs.append(time.perf_counter() - t0)
        except RuntimeError:  # e.g. "mkldnn_rnn: bf16 path needs the cpu support avx512bw, avx512vl and avx512dq"
            continue
        times[kernel] = min(runs[1:])
    return min(times, key=times.get)


def apply(model: torch.nn.Module, precision: str, device: torch.device, kernel: str = "onednn") -> None:
    """Make ``model``'s LSTM matmuls compute in ``precision`` with ``kernel`` (lstm.FusedLSTM); on a GPU, fp32
    matmuls may use TF32."""
    set_compute_dtype(model, DTYPES[precision], kernel)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
