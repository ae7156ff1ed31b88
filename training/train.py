"""The training loop: random segments, teacher forcing, validation, checkpoints, samples.

Single process by default; under ``torchrun`` (WORLD_SIZE > 1) it trains with torch's DDP,
each rank drawing its own batches, rank 0 writing logs and checkpoints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from live_biaxial.steering.generation import generate
from live_biaxial.music.representation import matrix_to_midi

from . import checkpoint, precision
from .average import WeightAverage
from .config import ModelConfig, TrainConfig
from .data import Data, minor_weights, sample_batch
from .evaluate import evaluate
from .model import BiaxialLSTM, StepCell, loss_per_step
from .parts import sample_part_batch


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from live_biaxial.errors import LiveBiaxialError

        raise LiveBiaxialError("--device cuda: no CUDA GPU is visible to torch")
    return torch.device(name)


def make_optimizer(model, cfg: TrainConfig):
    if cfg.optimizer == "adadelta":
        return torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-6)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr)


def torch_cell(cell: StepCell):
    """Wrap a StepCell as the numpy callable that live_biaxial.steering.generation expects."""

    @torch.no_grad()
    def step(*arrays):
        if cell.listens and len(arrays) == 7:  # nobody plays, 4/4 (as Cell does)
            arrays += (np.zeros((78, 2), np.float32), np.array([16, 4], np.int64))
        if cell.chords and len(arrays) == 9:  # no chord known
            arrays += (np.zeros((3, 12), np.float32),)
        outs = cell(*(torch.as_tensor(a) for a in arrays))
        if cell.chords:
            step.plan = outs[3].numpy()  # as Cell keeps it
        return tuple(o.numpy() for o in outs[:3])

    step.listens = cell.listens
    step.chords = cell.chords
    return step


def write_sample(model, path: Path, seed_notes: np.ndarray, steps_per_beat: int, n_steps: int = 128) -> None:
    raw = model.module if hasattr(model, "module") else model
    cell = StepCell(raw.cpu() if next(raw.parameters()).device.type != "cpu" else raw)
    notes, _ = generate(torch_cell(cell), cell.state_size, n_steps, seed_notes=seed_notes, seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    matrix_to_midi(notes, steps_per_beat=steps_per_beat, velocity=64).save(path)


class Progress:
    """One live line: batch, loss, validation NLL, segments/s, precision, ETA."""

    def __init__(self, total: int, precision: str = "fp32", stream=sys.stderr):
        self.total, self.precision, self.stream = total, precision, stream
        self.tty = stream.isatty()
        self.last_print = 0.0

    def show(self, step: int, loss: float, val: float | None, seg_s: float, eta_s: float, final=False):
        now = time.monotonic()
        if not final and now - self.last_print < (0.5 if self.tty else 30):
            return
        self.last_print = now
        width = 24
        done = int(width * step / max(self.total, 1))
        bar = "#" * done + "-" * (width - done)
        val_s = f"{val:.3f}" if val is not None else "-"
        eta = time.strftime("%H:%M:%S", time.gmtime(max(eta_s, 0)))
        line = f"[{bar}] {step}/{self.total} loss {loss:.3f} val {val_s} {seg_s:.1f} seg/s {self.precision} ETA {eta}"
        self.stream.write(("\r" + line + "\033[K") if self.tty else line + "\n")
        if final and self.tty:
            self.stream.write("\n")
        self.stream.flush()


def _interrupt_on_sigterm() -> None:
    """SIGTERM (and SIGINT, even where a shell started us with it ignored) saves a checkpoint."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, handler)
        except ValueError:  # not the main thread
            pass


def _stage(first_batch: int, cfg: TrainConfig, device: torch.device) -> dict:
    """Where the run's segments changed (the checkpoint keeps the list; export and the model card show it).
    Stages recorded before the device was kept all ran on a CPU."""
    stage = {"from_batch": first_batch, "batch_size": cfg.batch_size, "segment_steps": cfg.segment_steps,
             "device": device.type}
    if cfg.transpose:
        stage["transpose"] = cfg.transpose
    if cfg.own_notes:
        stage["own_notes"] = cfg.own_notes
    if cfg.home_key:
        stage["home_key"] = True
    if cfg.minor_weight != 1:
        stage["minor_weight"] = cfg.minor_weight
    if cfg.precision != "fp32":
        stage["precision"] = cfg.precision
    if cfg.average:
        stage["average"] = cfg.average
    return stage


@torch.no_grad()
def with_own_notes(model: BiaxialLSTM, states: torch.Tensor, steps: torch.Tensor, share: float,
                   human: torch.Tensor | None = None, meter: torch.Tensor | None = None,
                   chord: torch.Tensor | None = None) -> torch.Tensor:
    """Parallel scheduled sampling (Duckworth et al. 2019): states (B, T+1, 78, 2) -> the inputs to train on,
    where a random ``share`` of steps 1..T holds a chord drawn from the model given the true past (dropout
    off), walked up the pitch axis note by note as generation draws it, instead of the real one. Generation
    feeds the model its own notes; training only on real ones leaves it unpractised at going on from its
    own mistakes (exposure bias: docs/default-model.md). Draws use torch's global generator, seeded
    per batch. (docs/default-model.md's first own-notes rows drew each note given the true notes below it instead.)"""
    was_training = model.training
    model.eval()
    noise = torch.rand(states[:, 1:].shape, device=states.device)  # (B, T, 78, 2)
    hidden = model.time_axis(states, steps, human, meter, chord)
    drawn = model.walk(hidden, noise, None if human is None else human[:, 1:])  # (B, T, 78, 2) for states[:, 1:]
    model.train(was_training)
    replace = torch.rand(states.shape[:2], device=states.device) < share  # (B, T+1)
    replace[:, 0] = False  # the first step has no prediction
    inputs = states.clone()
    inputs[replace] = drawn[replace[:, 1:]].to(states.dtype)
    return inputs


ESTIMATE_AFTER = 3  # batches timed before the run says how long it will take


def _duration(seconds: float) -> str:
    """4000 -> '1 h 7 min'."""
    minutes = int(round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{max(minutes, 1)} min"


def cpu_threads(dev: torch.device) -> str:
    """The thread count shown beside a CPU device, e.g. " (2 threads)": what --threads set, or torch's default."""
    if dev.type != "cpu":
        return ""
    n = torch.get_num_threads()
    return f" ({n} thread{'s' if n != 1 else ''})"


def train(
    data: Data,
    out_dir: Path,
    model_config: ModelConfig,
    cfg: TrainConfig,
    resume: bool = False,
    device: str = "auto",
    log=print,
    new_lr: float | None = None,
    resume_changes: dict | None = None,
    init_from: str | None = None,
) -> dict:
    """Train; returns the last metrics. Ctrl-C saves a checkpoint before leaving.

    ``new_lr`` (with resume): go on at this learning rate, a manual decay step (Adam only).
    ``resume_changes`` (with resume): TrainConfig fields changed for the rest of the run (e.g. longer
    segments to fine-tune); the checkpoint records the new values.
    ``init_from`` (a new run): start from that checkpoint's weights and batch count, widened to
    ``model_config`` (e.g. a key memory added); its stages come first in this run's."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    dev = pick_device(device)
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    run = _Run.start(Path(out_dir), model_config, cfg, dev, resume, new_lr, resume_changes, init_from)
    run.world, run.rank = world, rank
    if rank == 0:
        run.out_dir.mkdir(parents=True, exist_ok=True)
        summary = data.summary()
        log(f"data: {summary['train']['pieces']} train pieces ({summary['train']['steps']} steps), "
            f"{summary['valid']['pieces']} valid, {summary['skipped']} skipped")
        log(run.describe())
    try:
        return run.loop(data, log)
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


@dataclasses.dataclass
class _Run:
    """A training run's state: its model, optimizer and weight average, the batch it is at, its best
    validation NLL and its stages (what changed where: data segments, device, precision, a parent)."""

    out_dir: Path
    model_config: ModelConfig
    cfg: TrainConfig
    dev: torch.device
    model: BiaxialLSTM
    kernel: str
    optimizer: torch.optim.Optimizer
    averaged: WeightAverage | None
    step: int
    best: float
    stages: list
    origin: str
    world: int = 1
    rank: int = 0

    @classmethod
    def start(cls, out_dir: Path, model_config: ModelConfig, cfg: TrainConfig, dev: torch.device, resume: bool,
              new_lr: float | None, resume_changes: dict | None, init_from: str | None) -> _Run:
        """A new run, one from ``init_from``'s weights, or (``resume``) the run in ``out_dir`` going on."""
        torch.manual_seed(cfg.seed)
        step, best, blob = 0, float("inf"), None
        if resume:
            blob = checkpoint.load(out_dir / "last.pt")
            model_config = ModelConfig.from_dict(blob["model_config"])
            run_cfg = TrainConfig.from_dict(blob["train_config"])
            cfg = dataclasses.replace(run_cfg, batches=cfg.batches, **(resume_changes or {}))
            if new_lr is not None:
                cfg = dataclasses.replace(cfg, lr=new_lr)
        if cfg.threads:  # the run's own with --resume, unless resume_changes set it
            torch.set_num_threads(cfg.threads)
        cfg = dataclasses.replace(cfg, precision=precision.resolve(cfg.precision, dev))  # "auto" measured once, here
        if resume:
            step, best = blob["step"], blob.get("best_valid_nll", float("inf"))
            # (checkpoints from before stages were kept: one stage so far, on a CPU)
            stages = blob.get("stages") or [_stage(1, run_cfg, torch.device("cpu"))]
            moved = stages[-1].get("device", "cpu") != dev.type
            changed = ("batch_size", "segment_steps", "home_key", "minor_weight", "precision")
            if moved or any(getattr(cfg, k) != getattr(run_cfg, k) for k in changed):
                stages = [*stages, _stage(step + 1, cfg, dev)]
        else:
            stages = [_stage(1, cfg, dev)]
        model = BiaxialLSTM(model_config).to(dev)
        kernel = precision.fastest_kernel(cfg.precision, dev, cfg.batch_size * 78, model.n_inputs,
                                          model_config.time_sizes[0])
        precision.apply(model, cfg.precision, dev, kernel)
        if blob is not None:
            model.load_state_dict(blob["model"])
        elif init_from:
            parent = checkpoint.load(init_from)
            checkpoint.load_widened(model, parent["model"], parent["path"])
            step = parent["step"]
            stages = [*parent.get("stages", []), {**_stage(step + 1, cfg, dev), "init_from": parent["path"],
                                                   "key_memory_steps": model_config.key_memory_steps, "lr": cfg.lr,
                                                   **({"listens": True} if model_config.listens else {}),
                                                   **({"chords": True} if model_config.chords else {})}]
        averaged = WeightAverage(model, cfg.average) if cfg.average else None
        if averaged is not None and blob is not None and blob.get("averaged"):
            averaged.load_state_dict(blob["averaged"])
        optimizer = make_optimizer(model, cfg)
        if blob is not None and blob.get("optimizer"):
            optimizer.load_state_dict(blob["optimizer"])
            if new_lr is not None and cfg.optimizer == "adam":
                for group in optimizer.param_groups:
                    group["lr"] = new_lr
        origin = (f"resuming at batch {step}" if resume else
                  f"from {init_from} at batch {step}" if init_from else "new")
        return cls(out_dir, model_config, cfg, dev, model, kernel, optimizer, averaged, step, best, stages, origin)

    def describe(self) -> str:
        mc = self.model_config
        origin = self.origin
        if mc.key_memory_steps:
            origin += f", key memory {mc.key_memory_steps} steps"
        if mc.listens:
            origin += ", listening (the player's part and the meter are inputs)"
        if mc.chords:
            origin += ", knowing chords (the chord an input, a plan head for the next beat's)"
        n_params = sum(p.numel() for p in self.model.parameters())
        return (f"model: time {list(mc.time_sizes)} pitch {list(mc.pitch_sizes)}, {n_params / 1e6:.2f}M parameters, "
                f"{self.dev}{cpu_threads(self.dev)}, {self.cfg.precision} ({self.kernel} LSTM), {origin}")

    def extra(self, data: Data, with_average: bool = True) -> dict:
        """What a checkpoint carries beside the weights."""
        out = {"data_summary": data.summary(), "best_valid_nll": self.best, "stages": self.stages}
        if self.averaged is not None and with_average:
            out["averaged"] = self.averaged.state_dict()  # last.pt carries it on for --resume
        return out

    def batch(self, data: Data, weights) -> dict:
        """The batch of this step, as tensors on the device: states (B, T, 78, 2), steps (B, T), and for a model
        that listens human (B, T, 78, 2), meter (B, T, 2), for one that knows chords chord (B, T, 3, 12) and
        plan (B, T) (the next beat's chord, -1: none). It depends on (seed, step) alone: resume is exact."""
        cfg, mc = self.cfg, self.model_config
        rng = np.random.default_rng([cfg.seed, self.step, self.rank])
        if mc.listens:  # the player's voices and the model's, drawn per segment (parts.py)
            b = sample_part_batch(data.splits["train"], rng, cfg.batch_size, cfg.segment_steps,
                                  cfg.segment_start_multiple, cfg.transpose, weights,
                                  cfg.chord_dropout if mc.chords else None)
            names = ("states", "steps", "human", "meter") + (("chord", "plan") if mc.chords else ())
        else:
            states, steps = sample_batch(data.splits["train"], rng, cfg.batch_size, cfg.segment_steps,
                                         cfg.segment_start_multiple, cfg.transpose, weights)
            b, names = {"states": states, "steps": steps}, ("states", "steps")
        return {name: torch.from_numpy(b[name]).to(self.dev) for name in names}

    def learn(self, net, batch: dict) -> dict:
        """One optimizer step on ``batch``; its losses."""
        cfg, model = self.cfg, self.model
        torch.manual_seed(cfg.seed * 1_000_003 + self.step * 101 + self.rank)  # dropout masks depend on the step too
        states, steps = batch["states"], batch["steps"]
        human, meter, chord = batch.get("human"), batch.get("meter"), batch.get("chord")
        inputs = with_own_notes(model, states, steps, cfg.own_notes, human, meter, chord) if cfg.own_notes else None
        losses = {}
        if self.model_config.chords:
            logits, plan = net(states, steps, inputs, human, meter, chord, with_plan=True)
            plan_loss = F.cross_entropy(plan.float().flatten(0, 1), batch["plan"][:, 1:].flatten(), ignore_index=-1)
        else:
            logits = net(states, steps, inputs, human, meter)  # (B, T, 78, 2), matmuls in cfg.precision
        loss = loss_per_step(logits.float(), states[:, 1:])
        if self.model_config.chords:
            losses.update(notes_loss=loss.item(), plan_loss=plan_loss.item())
            loss = loss + cfg.plan_weight * plan_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        self.optimizer.step()
        if self.averaged is not None:
            self.averaged.update(model)
        self.step += 1
        return {"loss": loss.item(), **losses}

    def validate(self, data: Data) -> dict:
        """Validation figures in fp32 (so they do not depend on the precision), of the averaged weights where
        there are any; a new best is saved as best.pt."""
        precision.apply(self.model, "fp32", self.dev, self.kernel)
        with self.averaged.swapped_into(self.model) if self.averaged is not None else contextlib.nullcontext():
            val = evaluate(self.model, data.splits["valid"], self.dev)
            if val["nll"] < self.best:
                self.best = val["nll"]
                checkpoint.save(self.out_dir / "best.pt", self.model, None, self.step, self.cfg,
                                self.extra(data, with_average=False))
        precision.apply(self.model, self.cfg.precision, self.dev, self.kernel)
        out = {"valid_nll": val["nll"], "valid_nll_play": val["nll_play"], "valid_accuracy": val["accuracy"]}
        if "plan_accuracy" in val:
            out.update(valid_plan_accuracy=val["plan_accuracy"], valid_chord_tones=val["chord_tones"])
        return out

    def loop(self, data: Data, log) -> dict:
        """Batches until cfg.batches: metrics.jsonl every batch, validation, checkpoints and samples at their
        intervals, progress on the terminal; Ctrl-C or SIGTERM saves last.pt and leaves."""
        cfg, main, last_path = self.cfg, self.rank == 0, self.out_dir / "last.pt"
        net = torch.nn.parallel.DistributedDataParallel(self.model) if self.world > 1 else self.model
        metrics_file = open(self.out_dir / "metrics.jsonl", "a") if main else None
        seed_notes = (data.splits["valid"] or data.splits["train"])[0].matrix[0]
        weights = minor_weights(data.splits["train"], cfg.minor_weight)  # (N,) or None: every piece alike
        progress = Progress(cfg.batches, cfg.precision)
        _interrupt_on_sigterm()
        start_step, val_nll, last = self.step, None, {}
        t0, segments = time.monotonic(), 0
        try:
            net.train()
            while self.step < cfg.batches:
                losses = self.learn(net, self.batch(data, weights))
                segments += cfg.batch_size * self.world
                if not main:
                    continue
                step = self.step
                last = {"step": step, "loss": losses["loss"], "time": time.time(),
                        **{k: v for k, v in losses.items() if k != "loss"}}
                if step % cfg.eval_every == 0 or step == cfg.batches:
                    last.update(self.validate(data))
                    val_nll = last["valid_nll"]
                elapsed = time.monotonic() - t0
                seg_s = segments / max(elapsed, 1e-9)
                last["segments_per_s"] = seg_s
                metrics_file.write(json.dumps(last) + "\n")
                metrics_file.flush()
                if step % cfg.checkpoint_every == 0 or step == cfg.batches:
                    checkpoint.save(last_path, self.model, self.optimizer, step, cfg, self.extra(data))
                if cfg.sample_every and (step % cfg.sample_every == 0 or step == cfg.batches):  # and at any run's end
                    write_sample(self.model, self.out_dir / "samples" / f"batch_{step:06d}.mid", seed_notes,
                                 self.model_config.steps_per_beat)
                    self.model.to(self.dev)
                eta = (cfg.batches - step) * cfg.batch_size * self.world / max(seg_s, 1e-9)
                if step == start_step + ESTIMATE_AFTER and step < cfg.batches:  # a sense of scale, measured here
                    log(f"\n{elapsed / ESTIMATE_AFTER:.1f} s a batch on this machine: the {cfg.batches - step:,} "
                        f"batches left take about {_duration(eta)} (Ctrl-C saves; --resume goes on)")
                progress.show(step, last["loss"], val_nll, seg_s, eta, final=step == cfg.batches)
        except KeyboardInterrupt:
            if main:
                checkpoint.save(last_path, self.model, self.optimizer, self.step, cfg, self.extra(data))
                log(f"\ninterrupted: saved {last_path} at batch {self.step}; continue with --resume")
            raise
        finally:
            if metrics_file:
                metrics_file.close()
        return last
