"""Summary of bench/gpu_own_notes.sh: each scored snapshot's pitch-class distance on both seed sets, notes per
step, repeated bars, minor share and validation NLL -> OUT/own_notes_gpu.json; the four nearest snapshots'
ONNX files -> OUT/best_onnx.tar; logs, metrics and bench JSONs -> OUT/logs.tgz.

Run: python bench/gpu_own_notes_summary.py WORK_DIR OUT_DIR (the script calls it)."""

import glob
import json
import os
import sys
import tarfile


def validation_nll(work: str) -> dict[tuple[str, int], float]:
    """(run, batch) -> validation NLL, from each run's metrics.jsonl."""
    nll = {}
    for path in glob.glob(f"{work}/R/*/metrics.jsonl"):
        run = path.split("/")[-2]
        for line in open(path):
            row = json.loads(line)
            if "valid_nll" in row:
                nll[(run, row["step"])] = round(row["valid_nll"], 4)
    return nll


def snapshot_rows(work: str) -> list[dict]:
    nll = validation_nll(work)
    rows = []
    for path in glob.glob(f"{work}/st/*.json"):
        job, step = os.path.basename(path)[:-5].rsplit("_", 1)
        runs = {r["seeds"]: r for r in json.load(open(path))["runs"]}

        def generated(seeds, name):
            return round(runs[seeds]["rows"][name]["generated"], 4) if seeds in runs else None

        rows.append({"job": job, "step": int(step),
                     "select": generated("select", "pitch_class_distance"),
                     "confirm": generated("confirm", "pitch_class_distance"),
                     "notes_per_step": generated("select", "notes_per_step"),
                     "repeated_bars": generated("select", "repeated_bar_share"),
                     "minor_share": [runs[s]["minor_share"] for s in ("select", "confirm") if s in runs],
                     "valid_nll": nll.get((job, int(step)))})
    return sorted(rows, key=lambda r: (r["job"], r["step"]))


def main():
    work, out = sys.argv[1], sys.argv[2]
    rows = snapshot_rows(work)
    for r in rows:
        print(r)
    with open(f"{out}/own_notes_gpu.json", "w") as f:
        json.dump(rows, f, indent=1)
    scored = [r for r in rows if r["select"] is not None and r["confirm"] is not None and r["job"] != "shipped"]
    nearest = sorted(scored, key=lambda r: r["select"] + r["confirm"])[:4]
    with tarfile.open(f"{out}/best_onnx.tar", "w") as t:
        for r in nearest:
            name = f"{r['job']}_{r['step']}.onnx"
            t.add(f"{work}/onnx/{name}", arcname=name)
    with tarfile.open(f"{out}/logs.tgz", "w:gz") as t:
        for path in glob.glob(f"{work}/R/*.log") + glob.glob(f"{work}/R/*/metrics.jsonl") + glob.glob(f"{work}/st/*.json"):
            t.add(path, arcname=os.path.relpath(path, work))


if __name__ == "__main__":
    main()
