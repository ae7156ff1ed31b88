"""The exported model: one ONNX graph = one time step, stepped with onnxruntime (never torch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import ModelFileError
from .music.chords import N_CHORDS
from .steering.controls import MODEL_TEMPERATURE_RANGE
from .music.representation import N_NOTES

FORMAT = "live-biaxial-onnx/1"  # a solo model: the player's notes, if any, are merged into its own
LISTENING_FORMAT = "live-biaxial-onnx/2"  # hears the player's part apart, and the meter
HARMONY_FORMAT = "live-biaxial-onnx/3"  # listens, knows the chord, and plans the next beat's
FORMATS = (FORMAT, LISTENING_FORMAT, HARMONY_FORMAT)
INPUTS = ("notes", "step", "state", "noise", "conservativity", "temperature", "play_bias")
LISTENING_INPUTS = INPUTS + ("human", "meter")  # (78, 2) the player's part; (2,) [16ths per bar, per beat]
HARMONY_INPUTS = LISTENING_INPUTS + ("chord",)  # (3, 12) [pitch classes, root, bass]; zeros: no chord
COMMON_TIME = np.array([16, 4], np.int64)  # 4/4 at 16ths
OUTPUTS = ("new_notes", "probs", "new_state")
HARMONY_OUTPUTS = OUTPUTS + ("plan",)  # (156,) logits of the next beat's chord (music/chords.py's classes)
# the shipped model: exported/ in a checkout (and an editable install), live_biaxial/exported/ in a wheel
_CHECKOUT_MODEL = Path(__file__).resolve().parent.parent / "exported" / "default.onnx"
DEFAULT_MODEL = _CHECKOUT_MODEL if _CHECKOUT_MODEL.exists() else Path(__file__).resolve().parent / "exported" / "default.onnx"


def session_options(threads: int = 1):
    """Options for single-step latency: one thread, no spinning, every graph optimisation."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    return so


class Cell:
    """A loaded model file. ``cell(notes, step, state, noise, c, temperature, bias[, human, meter[, chord]])``
    runs one step -> (new_notes, probs, new_state); a model that knows chords leaves its plan (156,) in
    ``cell.plan`` until the next call.

    Outputs are written into buffers owned by the cell (no allocation per step). Two sets of
    buffers alternate, so the previous step's outputs can be fed straight back as inputs; a
    returned array stays valid until the call after next, so callers copy what they keep.
    """

    def __init__(self, path: str | Path | None = None, threads: int = 1):
        import onnxruntime as ort

        self.path = Path(path) if path else DEFAULT_MODEL
        if not self.path.exists():
            raise ModelFileError(f"{self.path}: no such model file")
        try:
            self.session = ort.InferenceSession(str(self.path), session_options(threads), providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ModelFileError(f"{self.path}: not a readable ONNX model ({str(err).splitlines()[0][:120]})") from err
        self.meta = dict(self.session.get_modelmeta().custom_metadata_map)
        fmt = self.meta.get("format")
        if fmt is None:
            raise ModelFileError(f"{self.path}: an ONNX file, but not a live-biaxial model (no format metadata)")
        if fmt not in FORMATS:
            raise ModelFileError(f"{self.path}: model format {fmt!r}; this version of live-biaxial plays "
                                 + ", ".join(repr(f) for f in FORMATS[:-1]) + f" and {FORMATS[-1]!r}")
        self.listens = fmt in (LISTENING_FORMAT, HARMONY_FORMAT)  # else solo: callers merge the player's notes
        self.chords = fmt == HARMONY_FORMAT
        self.inputs = HARMONY_INPUTS if self.chords else LISTENING_INPUTS if self.listens else INPUTS
        names = tuple(i.name for i in self.session.get_inputs())
        if names != self.inputs:
            raise ModelFileError(f"{self.path}: damaged model: inputs {names} do not match {fmt!r}'s {self.inputs}")
        self._silent_part = np.zeros((N_NOTES, 2), np.float32)  # the player's part when nobody plays
        self._no_chord = np.zeros((3, 12), np.float32)
        self.state_size = self._meta_int("state_size", None)
        self.steps_per_beat = self._meta_int("steps_per_beat", 4)
        # the sampling temperature this model is played at unless the user picks one (chosen per model by
        # a temperature sweep, docs/default-model.md; models without it: 1, plain sampling as in the original)
        try:
            self.temperature = float(self.meta.get("temperature", 1.0))
        except ValueError as err:
            raise ModelFileError(f"{self.path}: temperature metadata {self.meta['temperature']!r} is not a number") from err
        low, high = MODEL_TEMPERATURE_RANGE
        if not low <= self.temperature <= high:
            raise ModelFileError(f"{self.path}: temperature metadata {self.temperature:g} outside {low:g}..{high:g}")
        self._outputs, self._plans, self._bindings = [], [], []
        for _ in range(2):
            out = (np.zeros((N_NOTES, 2), np.float32), np.zeros((N_NOTES, 2), np.float32),
                   np.zeros((N_NOTES, self.state_size), np.float32))
            plan = np.zeros(N_CHORDS, np.float32)
            binding = self.session.io_binding()
            for name, buf in zip(HARMONY_OUTPUTS if self.chords else OUTPUTS, out + (plan,)):
                binding.bind_output(name, "cpu", 0, np.float32, list(buf.shape), buf.ctypes.data)
            self._outputs.append(out)
            self._plans.append(plan)
            self._bindings.append(binding)
        self._turn = 0
        self.plan = self._plans[0]  # (156,) the last step's plan logits (zeros for a model without chords)


    def _meta_int(self, name: str, default: int | None) -> int:
        """A whole-number metadata entry of at least 1 (``default`` where it is missing; None: required)."""
        text = self.meta.get(name)
        if text is None:
            if default is None:
                raise ModelFileError(f"{self.path}: damaged model: no {name} metadata")
            return default
        try:
            value = int(text)
        except ValueError as err:
            raise ModelFileError(f"{self.path}: damaged model: {name} metadata {text!r} is not a whole number") from err
        if value < 1:
            raise ModelFileError(f"{self.path}: damaged model: {name} metadata {value} (at least 1)")
        return value
    def describe(self) -> dict:
        m = dict(self.meta)
        for k in ("time_sizes", "pitch_sizes", "data_summary", "stages"):
            if k in m:
                m[k] = json.loads(m[k])
        return m

    def __call__(self, notes, step, state, noise, conservativity, temperature, play_bias, human=None, meter=None,
                 chord=None):
        """One step. ``step``: the previous step's position in its bar (a solo model reads bits 0..3 of it);
        ``human`` (78, 2) and ``meter`` (2,) reach a model that listens (default: nobody plays, 4/4), ``chord``
        (3, 12) one that knows chords (default: no chord)."""
        self._turn ^= 1
        b = self._bindings[self._turn]
        values = (notes, step, state, noise, conservativity, temperature, play_bias)
        if self.listens:
            values += (self._silent_part if human is None else human, COMMON_TIME if meter is None else meter)
        if self.chords:
            values += (self._no_chord if chord is None else chord,)
        for name, value in zip(self.inputs, values):
            b.bind_cpu_input(name, np.asarray(value))  # (ascontiguousarray would make 0-d arrays 1-d)
        self.session.run_with_iobinding(b)
        self.plan = self._plans[self._turn]
        return self._outputs[self._turn]
