"""The training commands (train, eval, export-onnx, bench, stats): torch is imported here as a command runs,
never by the live path."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from live_biaxial.steering.controls import MODEL_TEMPERATURE_RANGE, TEMPERATURE_HELP

from .config import ModelConfig, TrainConfig


def sizes(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(","))


def add_train_args(p) -> None:
    p.add_argument("data", nargs="+", help="MIDI files or folders, JSB Chorales .json files, or music21:COMPOSER")
    p.add_argument("--out", default="runs/default", help="run folder: checkpoints, metrics.jsonl, samples/")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--batches", type=int, default=TrainConfig.batches, help="train until this batch (with --resume: in all)")
    p.add_argument("--batch-size", type=int, help=f"segments per batch (default {TrainConfig.batch_size}; "
                   "with --resume: the run's, or this for the rest of it)")
    p.add_argument("--segment-steps", type=int, help=f"steps per segment (default {TrainConfig.segment_steps}; "
                   "with --resume: the run's, or this for the rest of it, e.g. longer segments to fine-tune)")
    p.add_argument("--optimizer", choices=["adam", "adadelta"], default=TrainConfig.optimizer,
                   help="adam (default) or the original's adadelta")
    p.add_argument("--lr", type=float, default=TrainConfig.lr, help="Adam's learning rate")
    p.add_argument("--new-lr", type=float, help="with --resume: go on at this learning rate (a decay step)")
    p.add_argument("--transpose", type=int, default=0, help="random transposition up to +-N semitones")
    p.add_argument("--home-key", action="store_true",
                   help="move every piece to C major / A minor by its own key first (the model learns one key)")
    p.add_argument("--minor-weight", type=float, default=1.0, metavar="W",
                   help="draw pieces in a minor key W times as often as major ones (default 1)")
    p.add_argument("--own-notes", type=float, default=0.0, metavar="SHARE",
                   help="read this share of input steps from the model's own predictions, against exposure bias")
    p.add_argument("--time-sizes", type=sizes, default=ModelConfig.time_sizes, help="e.g. 300,300")
    p.add_argument("--pitch-sizes", type=sizes, default=ModelConfig.pitch_sizes, help="e.g. 100,50")
    p.add_argument("--dropout", type=float, default=ModelConfig.dropout, help="dropout after every LSTM layer")
    p.add_argument("--key-memory", type=int, default=0, metavar="STEPS",
                   help="add the key memory inputs with this time constant in steps (e.g. 64 = 4 bars of 16ths)")
    p.add_argument("--listen", action="store_true",
                   help="a model that hears the player's part apart and the meter (trained on pieces whose voices "
                        "are apart, e.g. Jsb16thSeparated.json: some voices the player's, the others its own)")
    p.add_argument("--harmony", action="store_true",
                   help="a model that knows the chord (with --listen): each beat's chord, recognised over all voices, "
                        "is an input (left out in a share of segments), and a plan head learns the next beat's")
    p.add_argument("--init-from", metavar="CHECKPOINT",
                   help="a new run starting from this checkpoint's weights (same sizes; e.g. with --key-memory)")
    p.add_argument("--steps-per-beat", type=int, default=4, help="4 = 16ths (default), 1 = quarter notes")
    p.add_argument("--eval-every", type=int, default=TrainConfig.eval_every, help="validate every N batches")
    p.add_argument("--checkpoint-every", type=int, default=TrainConfig.checkpoint_every,
                   help="save OUT/last.pt every N batches")
    p.add_argument("--sample-every", type=int, default=TrainConfig.sample_every, help="0 = never")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the batches drawn")
    p.add_argument("--average", type=float, default=0.0, metavar="DECAY",
                   help="validate and keep (best.pt) a moving average of the weights with this decay, e.g. 0.999")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                   help="the matmuls' precision (default auto: bf16 where this CPU or GPU runs it faster, else fp32; "
                        "weights, optimizer and cell state stay fp32; with --resume: the run's)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: a CUDA GPU if torch sees one")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own; with --resume: the run's)")


def run_train(args) -> int:
    from .data import load_data, to_home_key
    from .train import train

    _check_train_args(args)
    segment_steps, steps_per_beat, home_key = _run_grid(args)
    data = load_data(args.data, steps_per_beat=steps_per_beat, min_steps=segment_steps)
    if (args.listen or args.harmony) and not any(p.voices is not None for p in data.splits["train"]):
        print("--listen: none of these pieces has its voices apart, so the player's part is empty in every segment "
              "and the model learns to play solo; train a listening model on music whose voices are apart, such as "
              "the JSB Chorales with their four voices apart (Jsb16thSeparated.json, published with the data set "
              "at github.com/czhuang/JSB-Chorales-dataset)", flush=True)
    if home_key:
        data = to_home_key(data)  # validation too: its NLL is then in the home key
    cfg = TrainConfig(
        batch_size=args.batch_size or TrainConfig.batch_size, segment_steps=segment_steps, optimizer=args.optimizer, lr=args.lr,
        segment_start_multiple=4 * args.steps_per_beat,  # segments start on a bar line
        transpose=args.transpose, minor_weight=args.minor_weight, home_key=args.home_key, own_notes=args.own_notes,
        batches=args.batches, eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every, sample_every=args.sample_every, seed=args.seed,
        precision=args.precision or "auto", average=args.average,
        threads=args.threads or 0,
    )
    try:
        last = train(data, Path(args.out), _model_config(args), cfg, resume=args.resume, device=args.device,
                     new_lr=args.new_lr, resume_changes=_resume_changes(args),
                     init_from=None if args.resume else args.init_from)
    except KeyboardInterrupt:
        return 130
    _say_where_it_ended(Path(args.out), last)
    return 0


def _check_train_args(args) -> None:
    from live_biaxial.errors import LiveBiaxialError

    if not 0 <= args.own_notes < 1:
        raise LiveBiaxialError(f"--own-notes {args.own_notes:g}: a share of input steps, 0 or more and below 1")
    if args.threads is not None and args.threads < 0:
        raise LiveBiaxialError(f"--threads {args.threads}: a number of CPU threads, 1 or more (0 = torch's default)")
    if not 0 <= args.average < 1:
        raise LiveBiaxialError(f"--average {args.average:g}: a decay, 0 (none) or more and below 1 (e.g. 0.999)")
    if not args.minor_weight > 0:
        raise LiveBiaxialError(f"--minor-weight {args.minor_weight:g}: a weight above 0 (1 = minor and major pieces alike)")
    if args.harmony and not (args.listen or args.init_from or args.resume):
        raise LiveBiaxialError("--harmony: a model that knows chords also listens; add --listen")


def _run_grid(args) -> tuple[int, int, bool]:
    """(segment steps, steps per beat, home key): the command line's, or with --resume the run's own grid, and
    its segments unless the command line changes them."""
    segment_steps, steps_per_beat, home_key = args.segment_steps or TrainConfig.segment_steps, args.steps_per_beat, args.home_key
    if args.resume:
        from . import checkpoint

        blob = checkpoint.load(Path(args.out) / "last.pt")
        segment_steps = args.segment_steps or blob["train_config"]["segment_steps"]
        steps_per_beat = blob["model_config"]["steps_per_beat"]
        home_key = home_key or blob["train_config"].get("home_key", False)
    return segment_steps, steps_per_beat, home_key


def _resume_changes(args) -> dict:
    """The TrainConfig fields the command line changes for the rest of a resumed run."""
    changes = {k: v for k, v in (("batch_size", args.batch_size), ("segment_steps", args.segment_steps),
                                 ("home_key", args.home_key)) if v}
    if args.minor_weight != 1:
        changes["minor_weight"] = args.minor_weight
    if args.threads is not None:
        changes["threads"] = args.threads
    if args.precision is not None:
        changes["precision"] = args.precision
    return changes


def _model_config(args) -> ModelConfig:
    """The command line's sizes, or with --init-from the parent's sizes and grid, with this run's key memory,
    listening and chords added."""
    model_config = ModelConfig(args.time_sizes, args.pitch_sizes, args.dropout, args.steps_per_beat, args.key_memory,
                               args.listen, args.harmony)
    if args.init_from and not args.resume:
        from live_biaxial.errors import LiveBiaxialError

        from . import checkpoint

        parent = ModelConfig.from_dict(checkpoint.load(args.init_from)["model_config"])
        model_config = ModelConfig(parent.time_sizes, parent.pitch_sizes, parent.dropout, parent.steps_per_beat,
                                   args.key_memory or parent.key_memory_steps, args.listen or parent.listens,
                                   args.harmony or parent.chords)
        if model_config.chords and not model_config.listens:
            raise LiveBiaxialError("--harmony: a model that knows chords also listens; add --listen")
    return model_config


def _say_where_it_ended(out: Path, last: dict) -> None:
    best = out / "best.pt"
    if best.exists():
        from . import checkpoint

        saved = checkpoint.load(best)
        print(f"best: {best} (validation NLL {saved['best_valid_nll']:.3f} at batch {saved['step']}); "
              f"samples in {out / 'samples'}; next: live-biaxial export-onnx {best} --out {out.name}.onnx")
    else:
        print(f"no validation ran (--eval-every); last: {out / 'last.pt'}; metrics: {json.dumps(last)}")


def add_eval_args(p) -> None:
    p.add_argument("checkpoint", help="a checkpoint file (or a run folder: its last.pt)")
    p.add_argument("--data", nargs="+", required=True, help="the data to score (as for train)")
    p.add_argument("--split", choices=["train", "valid", "test"], default="test", help="the data split to score")
    p.add_argument("--json", dest="json_out", help="also write the metrics to this JSON file")


def add_stats_args(p) -> None:
    p.add_argument("--data", nargs="+", required=True, help="the data to compare with (as for train)")
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"], help="the data's pieces")
    p.add_argument("--reference", default="train", choices=["train", "valid", "test"],
                   help="the split both are compared with for the pitch-class distance")
    p.add_argument("--pieces", type=int, default=8, help="generated pieces (seeds SEED..SEED+N-1)")
    p.add_argument("--seed", type=int, default=0, help="the first piece's seed")
    p.add_argument("--bars", type=int, default=16, help="length of each generated piece")
    p.add_argument("--anti-silence", type=float, default=1.0, help="0 = off .. 1 = the original's rule against silence")
    p.add_argument("--temperature", type=float, help=TEMPERATURE_HELP)
    p.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")


def add_export_args(p) -> None:
    p.add_argument("checkpoint", help="a checkpoint file or run folder")
    p.add_argument("--out", help="the .onnx file (default: exported/RUN.onnx)")
    p.add_argument("--temperature", type=float,
                   help="the model's own sampling temperature, {:g}..{:g}, used when a player names none (default 1)"
                   .format(*MODEL_TEMPERATURE_RANGE))


def add_bench_args(p) -> None:
    p.add_argument("--model", help="an exported .onnx model (default: the shipped one)")
    p.add_argument("--steps", type=int, default=1000, help="time steps to time")
    p.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    p.add_argument("--int8", action="store_true", help="also time an int8-quantised copy of the model")


def run_eval(args) -> int:
    from . import checkpoint
    from .data import load_data
    from .evaluate import evaluate

    model, blob = checkpoint.load_model(args.checkpoint)
    data = load_data(args.data, steps_per_beat=model.config.steps_per_beat, min_steps=1, log=lambda s: None)
    pieces = data.splits[args.split]
    if not pieces:
        from live_biaxial.errors import DataError

        raise DataError(f"the {args.split} split of {', '.join(args.data)} is empty")
    m = evaluate(model, pieces)
    m.update(checkpoint=blob["path"], batch=blob["step"], split=args.split)
    print(f"{args.split}: {m['pieces']} pieces, {m['steps']} steps")
    print(f"  NLL per step, play bits:        {m['nll_play']:.4f}")
    print(f"  NLL per step, play + articulate: {m['nll']:.4f}")
    print(f"  frame-level accuracy:            {m['accuracy']:.4f}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(m, indent=2) + "\n")
    json.dump(m, sys.stdout)
    print()
    return 0


def run_export(args) -> int:
    from .export import export

    export(args.checkpoint, args.out, temperature=args.temperature)
    return 0


def run_bench(args) -> int:
    from .bench_step import run

    return run(args)


def run_stats(args) -> int:
    import json
    from pathlib import Path

    from live_biaxial.errors import LiveBiaxialError
    from live_biaxial.model_file import Cell
    from live_biaxial.steering.generation import generate, seed_step
    from live_biaxial.steering.controls import temperature_or_own
    from live_biaxial_training.measures.stats import compare, table

    from .data import load_data  # numpy only: no torch

    if args.pieces < 1 or args.bars < 1:
        raise LiveBiaxialError("--pieces and --bars must be at least 1")
    cell = Cell(args.model)
    data = load_data(args.data, steps_per_beat=cell.steps_per_beat, min_steps=1, log=lambda s: None)
    pieces = [p.matrix for p in data.splits[args.split]]
    reference = [p.matrix for p in data.splits[args.reference]]
    if not pieces or not reference:
        raise LiveBiaxialError(f"the {args.split} or {args.reference} split of {', '.join(args.data)} is empty")
    steps_per_bar = 4 * cell.steps_per_beat
    temperature = temperature_or_own(args.temperature, cell.temperature)
    seeds = range(args.seed, args.seed + args.pieces)
    generated = [generate(cell, cell.state_size, args.bars * steps_per_bar, seed_notes=seed_step(), seed=s,
                          anti_silence=args.anti_silence, temperature=temperature)[0] for s in seeds]
    result = compare(generated, pieces, reference, steps_per_bar)
    result.update(model=str(cell.path), sources=args.data, split=args.split, reference=args.reference,
                  anti_silence=args.anti_silence, temperature=temperature, first_seed=args.seed)
    print(f"{cell.path.name}: {args.pieces} pieces of {args.bars} bars (seeds {seeds.start}..{seeds.stop - 1}, "
          f"anti-silence {args.anti_silence:g}, temperature {temperature:g}) against {len(pieces)} {args.split} pieces")
    print(table(result))
    print("every statistic within bounds" if result["all_ok"] else "some statistics are out of bounds (NO above)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2, default=float) + "\n")
    return 0
