#!/usr/bin/env bash
# The GPU benchmark job (bench/README.md, "The GPU job"): NER's per-batch work against the bare fp16
# forward, for one worker and for N workers sharing the GPU (bench/ner_gpu.py --workers), on a lent GPU
# machine, from a clean checkout plus one carried folder, .gpu/ (git-ignored).
#
#   bench/gpu_job.sh prepare   # here (pip and a package index at hand): fills .gpu/ with the corpus and the
#                              # wheels the GPU machine lacks
#   OUT=/results bench/gpu_job.sh   # there: installs .gpu/'s wheels into /tmp/site, runs the benchmark,
#                              # writes ner_gpu.json, ner_gpu.log and env.txt into $OUT
#
# What the GPU machine lacks, and how it travels: bench/gpu_env.sh.
# Settings, by environment: DOCS (20000), WORKERS (1,2,4,8,16), SHAPES (the TinyBERN2 and no-encoder
# shapes), BUDGETS (bare forward token budgets), SERVER (1: the workers table also runs through one forward
# server per GPU, ner.forward_server; 0: not), MPS=1 also runs the workers table under the CUDA MPS daemon
# (if nvidia-cuda-mps-control exists). DEVICE=cpu tries the job on a CPU (fp32; with small DOCS and WORKERS).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/gpu_env.sh

if [[ ${1:-} == prepare ]]; then
    gpu_prepare
    du -sh "$CARRY"
    exit 0
fi

gpu_setup
run() {
    "$PY" bench/ner_gpu.py --device "${DEVICE:-cuda}" --corpus "$CORPUS" --docs "${DOCS:-20000}" \
        --budgets "${BUDGETS:-8192,16384,32768,65536,131072}" \
        --shapes "${SHAPES:-tinybern2 (4x312),no encoder (0x312)}" --workers "${WORKERS:-1,2,4,8,16}" \
        --workers-shapes "tinybern2 (4x312)" "$@"
}
server=()
[[ ${SERVER:-1} == 1 ]] && server=(--server)
run "${server[@]}" --json "$OUT/ner_gpu.json" 2>&1 | tee "$OUT/ner_gpu.log"
if [[ ${MPS:-0} == 1 ]] && command -v nvidia-cuda-mps-control >/dev/null; then
    nvidia-cuda-mps-control -d
    SHAPES="tinybern2 (4x312)" run --json "$OUT/ner_gpu_mps.json" 2>&1 | tee "$OUT/ner_gpu_mps.log" || true
    echo quit | nvidia-cuda-mps-control
fi
