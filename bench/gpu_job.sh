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
# The GPU machine's python3 has torch, transformers, tokenizers, numpy, pandas, pyarrow, rich, psutil and
# pyyaml, no network, no Java, and not pydantic or pyspark: those travel as wheels (pyspark-client, the
# pure-Python client, is all the benchmark imports of pyspark: the schema types). The shared corpus
# (../shared beside the checkout) does not travel either: prepare copies it into .gpu/.
# Settings, by environment: DOCS (20000), WORKERS (1,2,4,8,16), SHAPES (the TinyBERN2 and no-encoder
# shapes), BUDGETS (bare forward token budgets), MPS=1 also runs the workers table under the CUDA MPS daemon
# (if nvidia-cuda-mps-control exists). DEVICE=cpu tries the job on a CPU (fp32; with small DOCS and WORKERS).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
CARRY=${CARRY:-.gpu}

if [[ ${1:-} == prepare ]]; then
    mkdir -p "$CARRY"
    install -m 644 ../shared/data/corpus/abstracts.jsonl.gz "$CARRY/"
    # versions this project's own environment runs; pydantic-core is compiled, for the machine's CPython 3.12
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$CARRY" pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
    "$PY" -m pip wheel -q --no-deps -w "$CARRY" "pyspark-client==4.2.*"  # an sdist: built here, pure Python
    rm -f "$CARRY"/*.tar.gz
    du -sh "$CARRY"
    exit 0
fi

: "${OUT:?set OUT to the folder for the results}"
if compgen -G "$CARRY/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "${SITE:=/tmp/site}" "$CARRY"/*.whl
    export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
# as on the Databricks clusters (databricks.yml): a task tokenises on its own core, no Rust thread pool
export TOKENIZERS_PARALLELISM=${TOKENIZERS_PARALLELISM:-false}
CORPUS=$CARRY/abstracts.jsonl.gz
[[ -f $CORPUS ]] || CORPUS=../shared/data/corpus/abstracts.jsonl.gz
{
    git rev-parse HEAD 2>/dev/null || echo "no git"
    nvidia-smi 2>&1 || true
    nproc
    "$PY" -c "import torch, transformers, tokenizers as t; print(torch.__version__, transformers.__version__, t.__version__)"
} >"$OUT/env.txt"
run() {
    "$PY" bench/ner_gpu.py --device "${DEVICE:-cuda}" --corpus "$CORPUS" --docs "${DOCS:-20000}" \
        --budgets "${BUDGETS:-8192,16384,32768,65536,131072}" \
        --shapes "${SHAPES:-tinybern2 (4x312),no encoder (0x312)}" --workers "${WORKERS:-1,2,4,8,16}" \
        --workers-shapes "tinybern2 (4x312)" "$@"
}
run --json "$OUT/ner_gpu.json" 2>&1 | tee "$OUT/ner_gpu.log"
if [[ ${MPS:-0} == 1 ]] && command -v nvidia-cuda-mps-control >/dev/null; then
    nvidia-cuda-mps-control -d
    SHAPES="tinybern2 (4x312)" run --json "$OUT/ner_gpu_mps.json" 2>&1 | tee "$OUT/ner_gpu_mps.log" || true
    echo quit | nvidia-cuda-mps-control
fi
