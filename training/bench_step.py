"""`live-biaxial bench`: latency of one time step, three ways, measured side by side.

(a) onnxruntime on the model file, as the live engine runs it;
(b) the same step in torch eager (a StepCell of the same sizes);
(c) the floor: an onnxruntime graph holding only the matrix products of one step, same shapes;
(d) with --int8, a copy whose time-axis matmuls are dynamically quantised to int8, with the
    change in NLL of the same walk (fp32 notes, same noise) to show what the speed costs.
Rounds interleave (a), (b), (c), (d) so that load on a shared machine hits them alike.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from live_biaxial.model_file import Cell
from live_biaxial.music.representation import N_NOTES

from .config import ModelConfig
from .model import BiaxialLSTM, StepCell


def floor_graph(time_sizes, pitch_sizes, path: Path) -> None:
    """Only the matmuls of one step: time layers on 78 notes, then 78 sequential pitch matvecs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, inputs, outputs = [], [], [], []

    def matmul(rows, k, n, name):
        x = f"x_{name}"
        inputs.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, [rows, k]))
        inits.append(numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), f"w_{name}"))
        nodes.append(helper.make_node("MatMul", [x, f"w_{name}"], [f"y_{name}"]))
        return f"y_{name}"

    prev = 80
    for i, h in enumerate(time_sizes):
        outputs.append(matmul(N_NOTES, prev + h, 4 * h, f"t{i}"))
        prev = h
    outputs.append(matmul(N_NOTES, prev, 4 * pitch_sizes[0], "pre"))
    for n in range(N_NOTES):
        outputs.append(matmul(1, 2 + pitch_sizes[0], 4 * pitch_sizes[0], f"p0_{n}"))
        for k in range(1, len(pitch_sizes)):
            outputs.append(matmul(1, pitch_sizes[k - 1] + pitch_sizes[k] + 1, 4 * pitch_sizes[k], f"p{k}_{n}"))
        outputs.append(matmul(1, pitch_sizes[-1], 2, f"o_{n}"))
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
    graph = helper.make_graph(nodes, "floor", inputs, outs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def quantize_time_axis(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    big = [n.name for n in onnx.load(str(src)).graph.node if n.op_type == "MatMul"]
    # the time axis's products are the large ones: the first MatMuls of the graph, before the walk
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, nodes_to_quantize=big[:3],
                     extra_options={"MatMulConstBOnly": True})


def stats(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max()), "n": len(a)}


def run(args) -> int:
    torch.set_num_threads(1)
    cell = Cell(args.model)
    meta = cell.describe()
    cfg = ModelConfig(tuple(meta["time_sizes"]), tuple(meta["pitch_sizes"]))
    torch_cell = StepCell(BiaxialLSTM(cfg))
    tmp = Path(tempfile.mkdtemp())
    floor_graph(cfg.time_sizes, cfg.pitch_sizes, tmp / "floor.onnx")
    import onnxruntime as ort

    from live_biaxial.model_file import session_options

    floor = ort.InferenceSession(str(tmp / "floor.onnx"), session_options(1), providers=["CPUExecutionProvider"])
    floor_binding = floor.io_binding()  # inputs bound once: the floor times the products, not the feeding
    floor_inputs = [np.random.rand(*i.shape).astype(np.float32) for i in floor.get_inputs()]
    for i, x in zip(floor.get_inputs(), floor_inputs):
        floor_binding.bind_cpu_input(i.name, x)
    for o in floor.get_outputs():
        floor_binding.bind_output(o.name, "cpu")
    int8 = None
    if args.int8:
        quantize_time_axis(cell.path, tmp / "int8.onnx")
        int8 = Cell(tmp / "int8.onnx")

    rng = np.random.default_rng(0)
    notes = np.zeros((N_NOTES, 2), np.float32)
    state = np.zeros((N_NOTES, cell.state_size), np.float32)
    one, bias = np.float32(1.0), np.zeros(N_NOTES, np.float32)
    t_state = torch.zeros(N_NOTES, cell.state_size)
    t_notes = torch.zeros(N_NOTES, 2)
    times = {"onnxruntime": [], "torch_eager": [], "floor_matmuls": []}
    if int8:
        times["onnxruntime_int8"] = []
        nll = {"fp32": 0.0, "int8": 0.0}
        q_state = state.copy()
    for i in range(args.steps + 20):  # the first 20 rounds warm up
        noise = rng.random((N_NOTES, 2), dtype=np.float32)
        t0 = time.perf_counter()
        new, probs, state = cell(notes, np.int64(i), state, noise, one, one, bias)
        t1 = time.perf_counter()
        with torch.no_grad():
            t_notes, _, t_state = torch_cell(t_notes, torch.tensor(i), t_state, torch.from_numpy(noise),
                                             torch.tensor(1.0), torch.tensor(1.0), torch.zeros(N_NOTES))
        t2 = time.perf_counter()
        floor.run_with_iobinding(floor_binding)
        t3 = time.perf_counter()
        if i >= 20:
            times["onnxruntime"].append((t1 - t0) * 1e3)
            times["torch_eager"].append((t2 - t1) * 1e3)
            times["floor_matmuls"].append((t3 - t2) * 1e3)
        if int8:
            t4 = time.perf_counter()
            _, q_probs, q_state = int8(notes, np.int64(i), q_state, noise, one, one, bias)
            t5 = time.perf_counter()
            if i >= 20:
                times["onnxruntime_int8"].append((t5 - t4) * 1e3)
            for key, p in (("fp32", probs), ("int8", q_probs)):  # NLL of the fp32 notes under each
                pp = np.clip(p[:, 0], 1e-7, 1 - 1e-7)
                nll[key] -= float(np.sum(new[:, 0] * np.log(pp) + (1 - new[:, 0]) * np.log(1 - pp)))
        notes = new.copy()
    result = {"model": str(cell.path), "time_sizes": list(cfg.time_sizes), "pitch_sizes": list(cfg.pitch_sizes),
              "threads": 1, **{k: stats(v) for k, v in times.items()}}
    floor_p99 = result["floor_matmuls"]["p99_ms"]
    result["ratio_p99_onnxruntime_to_floor"] = result["onnxruntime"]["p99_ms"] / floor_p99
    result["ratio_p50_torch_to_onnxruntime"] = result["torch_eager"]["p50_ms"] / result["onnxruntime"]["p50_ms"]
    if int8:
        result["ratio_p99_int8_to_floor"] = result["onnxruntime_int8"]["p99_ms"] / floor_p99
        result["nll_per_step_fp32"] = nll["fp32"] / (args.steps + 20)
        result["nll_per_step_int8"] = nll["int8"] / (args.steps + 20)
        result["nll_change_int8"] = result["nll_per_step_int8"] / result["nll_per_step_fp32"] - 1
    for k, v in times.items():
        s = result[k]
        print(f"{k:18s} p50 {s['p50_ms']:7.3f} ms  p99 {s['p99_ms']:7.3f} ms  max {s['max_ms']:7.3f} ms")
    print(f"onnxruntime p99 / floor p99: {result['ratio_p99_onnxruntime_to_floor']:.2f}x; "
          f"torch eager p50 / onnxruntime p50: {result['ratio_p50_torch_to_onnxruntime']:.1f}x")
    if int8:
        print(f"int8 p99 / fp32 floor p99: {result['ratio_p99_int8_to_floor']:.2f}x; "
              f"NLL change of the same walk: {100 * result['nll_change_int8']:+.2f}%")
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    return 0
