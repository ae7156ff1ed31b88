"""Write exported/MODEL_CARD.md for an exported model from its run folder (metrics.jsonl + checkpoint).

live-biaxial stats --data ../shared/data/jsb-chorales/Jsb16thSeparated.json --json runs/small/stats.json
live-biaxial eval runs/small/best.pt --data ../shared/data/jsb-chorales/Jsb16thSeparated.json --split valid --json runs/small/eval.json
python -m training.model_card runs/small exported/default.onnx runs/small/stats.json runs/small/eval.json
"""

import json
import platform
import sys
from pathlib import Path

from live_biaxial.model_file import Cell
from live_biaxial_training.measures.stats import table


def stats_section(stats_json: str | None) -> str:
    if not stats_json:
        return "- **Not yet measured**: the generated-music statistics (`live-biaxial stats`).\n"
    r = json.loads(Path(stats_json).read_text())
    verdict = "every statistic within bounds" if r["all_ok"] else "NOT every statistic within bounds (rows marked NO)"
    return (f"- **Does it sound like the data?** `live-biaxial stats` ({r['generated']['pieces']} generated pieces of "
            f"{r['generated']['steps'] // r['generated']['pieces'] // 16} bars, anti-silence {r['anti_silence']:g}, "
            f"temperature {r.get('temperature', 1.0):g}, "
            f"against the {r['data']['pieces']} {r['split']} pieces; shares within 25% of the data's or 0.02, "
            f"longest silence at most a bar): {verdict}.\n\n```\n{table(r)}\n```\n")


FIRST_STAGE = {"from_batch": 1, "batch_size": 10, "segment_steps": 128}  # models exported before stages were kept
DATA = "../shared/data/jsb-chorales/Jsb16thSeparated.json"


def stage_spans(meta: dict) -> list[tuple[dict, int]]:
    """Each training stage with its last batch."""
    stages = meta.get("stages") or [FIRST_STAGE]
    ends = [s["from_batch"] - 1 for s in stages[1:]] + [int(meta["batches"])]
    return list(zip(stages, ends))


def stage_text(stage: dict, end: int) -> str:
    text = f"batches {stage['from_batch']}-{end}: {stage['batch_size']} segments x {stage['segment_steps']} steps"
    if stage.get("transpose"):
        text += f" transposed by up to +-{stage['transpose']} semitones"
    if stage.get("home_key"):
        text += ", every piece moved to C major / A minor first"
    if stage.get("minor_weight"):
        text += f", pieces in minor keys drawn {stage['minor_weight']:g} times as often"
    if stage.get("own_notes"):
        text += f", {stage['own_notes']:.0%} of input steps drawn from its own predictions"
    if stage.get("key_memory_steps"):
        text += (f", key memory inputs added ({stage['key_memory_steps']}-step time constant, their weights "
                 "starting at 0)")
    if stage.get("init_from"):
        text += f", a fresh Adam at lr {stage.get('lr', 1e-3):g}"
    return text


def stages_text(meta: dict, data: dict) -> str:
    """'batches of 10 segments x 128 steps', or each stage when the run changed its segments."""
    spans = stage_spans(meta)
    if len(spans) == 1:
        return f"batches of {spans[0][0]['batch_size']} segments x {spans[0][0]['segment_steps']} steps"
    return ("; ".join(stage_text(s, end) for s, end in spans) + " (the later stages are "
            f"against key drift; pieces shorter than a segment are left out of that stage: {data['train']['pieces']} "
            "train pieces)")


def device_option(stage: dict) -> str:
    return f" --device {stage['device']}" if stage.get("device", "cpu") != "cpu" else ""


CPU = f"{platform.machine()} CPU (2 cores shared with development work, 1-2 torch threads)"


def wall_time_text(metrics: list[dict], meta: dict) -> str:
    """Wall-clock hours per device over the batches the metrics cover (stages recorded before the device was
    kept ran on this machine's CPU); earlier batches, whose run folder is gone, are the card's history."""
    spans = stage_spans(meta)
    hours: dict[str, float] = {}
    for a, b in zip(metrics, metrics[1:]):
        if b["step"] == a["step"] + 1:
            stage = next(s for s, end in spans if b["step"] <= end)
            device = stage.get("device", "cpu")
            hours[device] = hours.get(device, 0.0) + max(0.0, b["time"] - a["time"]) / 3600
    first, last = metrics[0]["step"], metrics[-1]["step"]
    where = " and ".join(f"about {h:.1f} h on {'a CUDA GPU' if d == 'cuda' else CPU}" for d, h in hours.items())
    covered = f"batches {first}-{last}: " if first > 1 else ""
    return covered + where + ("; the batches before them: below" if first > 1 else "")


def rebuild_text(meta: dict) -> str:
    (first, first_end), *later = stage_spans(meta)
    run = "runs/small"
    commands = [f"`live-biaxial train {DATA} --out {run} --time-sizes 150,150 --pitch-sizes 80,40 "
                f"--batches {first_end}{device_option(first)}`"]
    finetunes = 0
    for s, end in later:
        segments = f"--batch-size {s['batch_size']} --segment-steps {s['segment_steps']}"
        if s.get("transpose"):
            segments += f" --transpose {s['transpose']}"
        if s.get("home_key"):
            segments += " --home-key"
        if s.get("minor_weight"):
            segments += f" --minor-weight {s['minor_weight']:g}"
        if s.get("own_notes"):
            segments += f" --own-notes {s['own_notes']:g}"
        segments += device_option(s)
        if s.get("init_from"):
            finetunes += 1
            parent, run = run, "runs/finetune" + (str(finetunes) if finetunes > 1 else "")
            memory = f" --key-memory {s['key_memory_steps']}" if s.get("key_memory_steps") else ""
            commands.append(f"`live-biaxial train {DATA} --out {run} --init-from {parent}/last.pt{memory} "
                            f"{segments} --lr {s.get('lr', 1e-3):g} --batches {end}`")
        else:
            commands.append(f"`live-biaxial train {DATA} --out {run} --resume --batches {end} {segments}`")
    temperature = f" --temperature {meta['temperature']}" if "temperature" in meta else ""
    return ", then ".join(commands) + (f", then `live-biaxial export-onnx {run}/last.pt --out exported/default.onnx"
                                       f"{temperature}`.")


def eval_text(eval_json: str | None, best: dict) -> str:
    if not eval_json:
        return f"best {best['valid_nll']:.3f} (play bits {best['valid_nll_play']:.3f}) at batch {best['step']}."
    e = json.loads(Path(eval_json).read_text())
    return (f"this model (batch {e['batch']}) on all {e['pieces']} validation pieces ({e['steps']} steps, "
            f"`live-biaxial eval`): {e['nll']:.3f} (play bits {e['nll_play']:.3f}), frame accuracy {e['accuracy']:.3f}.")


def stage_rows_note(meta: dict) -> str:
    spans = stage_spans(meta)
    if len(spans) < 2:
        return ""
    last = spans[-1][0]
    return (f"\nRows from batch {last['from_batch']} on are measured during training on the validation pieces of at "
            f"least {last['segment_steps']} steps only ({meta['data_summary']['valid']['pieces']} pieces).\n")


def run_metrics(run_dir: Path, meta: dict) -> list[dict]:
    """metrics.jsonl of the run, after those of the run it started from (``--init-from``) up to where it started."""
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for stage in reversed(meta.get("stages") or []):
        if stage.get("init_from"):  # a checkpoint in a run folder; an exported model (.onnx) has no metrics beside it
            log = Path(stage["init_from"]).parent / "metrics.jsonl"
            if not log.exists():
                return metrics
            parent = [json.loads(line) for line in log.read_text().splitlines()]
            return [m for m in parent if m["step"] < stage["from_batch"]] + metrics
    return metrics


def main(run: str, model: str, stats_json: str | None = None, eval_json: str | None = None,
         choice_md: str | None = None) -> None:
    """choice_md: a Markdown bullet on why this checkpoint was chosen, put in as it is."""
    meta = Cell(model).describe()
    metrics = run_metrics(Path(run), meta)
    metrics = [m for m in metrics if m["step"] <= int(meta["batches"])]  # the run may have gone on past this model
    vals = [m for m in metrics if "valid_nll" in m]
    best = min(vals, key=lambda m: m["valid_nll"])
    data = meta["data_summary"]
    rows = "\n".join(f"| {m['step']} | {m['valid_nll']:.3f} | {m['valid_nll_play']:.3f} | {m['valid_accuracy']:.3f} |" for m in vals)
    card = f"""# Model card: {Path(model).name}

- **Architecture**: biaxial LSTM, time axis {meta['time_sizes']}, pitch axis {meta['pitch_sizes']}, dropout 0.5,
  notes MIDI {meta['note_window']}, {meta['steps_per_beat']} steps per beat (16ths). Format {meta['format']}.
- **Data**: JSB Chorales, 16th notes, voices separated (re-articulation inferred per voice), the standard split{
  ' (as the last stage read it)' if len(stage_spans(meta)) > 1 else ''}:
  train {data['train']['pieces']} pieces ({data['train']['steps']} steps), validation {data['valid']['pieces']} pieces
  ({data['valid']['steps']} steps); {data.get('skipped', 0)} pieces skipped (shorter than a
  {stage_spans(meta)[-1][0]['segment_steps']}-step segment).
- **Training**: Adam lr 1e-3, {stages_text(meta, data)}; {meta['batches']} batches. Wall-clock:
  {wall_time_text(metrics, meta)}.
  Checkpoint sha256 {meta['checkpoint_sha256']}.
- **Sampling**: temperature {meta.get('temperature', '1')} unless the player picks one (`--temperature`, the console's
  `t`/`g`, CC 21){'; chosen by a temperature sweep (docs/default-model.md)' if 'temperature' in meta else ''}.
- **Validation** (NLL per 16th-note step, every step of every validation piece; accuracy = frame-level TP/(TP+FP+FN)):
  {eval_text(eval_json, best)}

| batch | NLL (play + articulate) | NLL (play) | frame accuracy |
| --- | --- | --- | --- |
{rows}
{stage_rows_note(meta)}
- **Why this size**: the default size [300,300]/[100,50] (1.37M parameters), trained from scratch on an H100 on
  the same data with the same +-6 transposition (16 x 128-step segments, Adam lr 1e-3), was best at batch 1,400
  (validation NLL 1.901, all 76 pieces) and then learnt the training pieces by heart (training loss 0.19 and
  validation 4.4 by batch 10,730); a fine-tune from its best at lr 1e-4 reached 1.876, and its music is further
  from the data's (pitch-class distance 0.102 at temperature 1, 0.071 at 0.8; 128 pieces): 228 training
  chorales are too few for it. On this machine's CPU the smaller size also learns faster (at equal wall-clock,
  44 min: batch 259 at a training loss of 8.34 against batch 99 at 14.09).
{stats_section(stats_json)}{Path(choice_md).read_text() if choice_md else ''}- **Rebuild**: {rebuild_text(meta)}
"""
    (Path(model).parent / "MODEL_CARD.md").write_text(card)
    print(card)


if __name__ == "__main__":
    main(*sys.argv[1:6])
