#!/bin/bash
# Own notes on a lent GPU (session 11, one ~8-minute device call): six fine-tunes side by side from the shipped
# batch 3,800 with its recipe (16 x 192, lr 3e-4, +-6): whole-chord own notes 0.15 and 0.3 and a paired control
# (no own notes), seeds 41 and 42 each, for T_TRAIN seconds; every 100-batch snapshot exported and scored with
# the bench_sampling.py plain walk on both seed sets (T_EVAL seconds, latest snapshots first), the shipped model
# beside them. Writes $OUT/own_notes_gpu.json (-> bench/results/own_notes_gpu.json), the four nearest snapshots
# ($OUT/best_onnx.tar) and the logs. Run from the repository root on the device machine, with a copy of the
# chorales at $DATA (../shared does not travel) and the mido wheel in .whl/ (not in its image):
#   device run: bash bench/gpu_own_notes.sh      (carry: runs/gpu, .whl)
# A smoke run on this machine's CPU: DEV=cpu T_TRAIN=100 T_EVAL=80 EVERY=2 BS=2 SEG=32 PIECES=4 BARS=2 bash bench/gpu_own_notes.sh
T_TRAIN=${T_TRAIN:-320}; T_EVAL=${T_EVAL:-130}; DEV=${DEV:-cuda}; PIECES=${PIECES:-128}; BARS=${BARS:-16}
OUT=${OUT:-/tmp/out4}; mkdir -p $OUT
if ls .whl/*.whl >/dev/null 2>&1 && [ "$DEV" = cuda ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
D=${DATA:-runs/gpu/data/Jsb16thSeparated.json}
C="--device $DEV --sample-every 0 --eval-every ${EVERY:-100} --checkpoint-every ${EVERY:-100} --transpose 6 --segment-steps ${SEG:-192} --batch-size ${BS:-16} --lr 3e-4 --batches 9000 --init-from exported/default.onnx"
W=/tmp/w4; rm -rf $W; mkdir -p $W/R $W/snaps $W/onnx $W/st
JOBS="c41 c42 o15s41 o15s42 o30s41 o30s42"
job() { n=$1; shift; timeout -s TERM $T_TRAIN python3 -m live_biaxial train $D $C --out $W/R/$n "$@" 2>&1 | tr '\r' '\n' | grep -v "^\[" > $W/R/$n.log; }
job c41 --seed 41 & job c42 --seed 42 &
job o15s41 --seed 41 --own-notes 0.15 & job o15s42 --seed 42 --own-notes 0.15 &
job o30s41 --seed 41 --own-notes 0.3 & job o30s42 --seed 42 --own-notes 0.3 &
python3 - $W "$JOBS" <<'PY' &
import os, shutil, sys, time, torch
w, jobs = sys.argv[1], sys.argv[2].split()
seen = {}
while True:
    for j in jobs:
        f = f"{w}/R/{j}/last.pt"
        try:
            m = os.stat(f).st_mtime_ns
            if seen.get(j) != m:
                seen[j] = m
                shutil.copy(f, f"{w}/snaps/tmp.pt")
                step = torch.load(f"{w}/snaps/tmp.pt", map_location="cpu", weights_only=True)["step"]
                os.replace(f"{w}/snaps/tmp.pt", f"{w}/snaps/{j}_{step}.pt")
        except (FileNotFoundError, KeyError, RuntimeError, EOFError):
            pass
    time.sleep(2)
PY
WATCH=$!
sleep 3; nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv > $OUT/gpu.txt 2>&1
wait %1 %2 %3 %4 %5 %6; sleep 3; kill $WATCH
ls $W/snaps; nvidia-smi --query-gpu=name --format=csv >> $OUT/gpu.txt 2>&1
ls $W/snaps/*.pt | xargs -P 16 -I{} sh -c 'n=$(basename {} .pt); OMP_NUM_THREADS=1 python3 -m live_biaxial export-onnx {} --out '$W'/onnx/$n.onnx --temperature 0.8 >/dev/null 2>&1'
cp exported/default.onnx $W/onnx/shipped_3800.onnx
DL=$(( $(date +%s) + T_EVAL ))
ls $W/onnx/*.onnx | sort -t_ -k2 -n -r | xargs -P 16 -I{} bash -c 'n=$(basename {} .onnx); r=$(( '$DL' - $(date +%s) )); [ $r -gt 5 ] && OMP_NUM_THREADS=1 timeout $r python3 bench/bench_sampling.py --model {} --rules plain --data '$D' --pieces '$PIECES' --bars '$BARS' --json '$W'/st/$n.json > /dev/null 2>&1'
python3 bench/gpu_own_notes_summary.py $W $OUT
ls -la $OUT
