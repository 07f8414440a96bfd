#!/usr/bin/env bash
# The GPU job of the synonym encoder (issue 17; docs/linking.md, "The GPU linker job"): `kazu-spark train
# linker` on a lent GPU for longer than the 30-minute CPU run, from a clean checkout plus one carried folder,
# .gpu-linker/ (git-ignored; apart from .gpu/, which the NER jobs carry: the two do not fit in one 64 MiB tree).
#
#   bench/gpu_linker.sh prepare       # here: bench/gpu_env.sh's wheels, MiniLM's first 2 layers (the encoder's
#                                     # training.linker.layers) packed into int8 (tools/pack_encoder.py), and the
#                                     # ontologies and linking corpora conf/ontologies-shared-curated.yaml reads,
#                                     # but for the gene sources (linking.txz)
#   OUT=/results bench/gpu_linker.sh  # there
#
# There the data is unpacked into ../shared/data, where the config points (left as it is where it exists: a CPU
# try). The config travels as linker.yaml, without its gene sources (prepare drops them): NCBI Gene and HGNC
# (9 MB) would not fit in the tree that travels, and the embedding step links diseases and chemicals
# (docs/linking.md). Then `train linker` runs EPOCHS (10) passes over the pairs within BUDGET_S (360) seconds and
# prints its devel accuracy table (the encoder alone, base and trained); LINKER_FLAGS adds flags (a CPU try:
# "--no-eval --max-steps 3"). Into $OUT: env.txt, train-linker.log, summary.json (the command's JSON line) and the
# encoder folder as linker.tar in 15 MiB parts; here `cat linker.tar.part-* | tar -x -C DIR` gives DIR/linker,
# for `linking.embedding.model` (docs/linking.md says how it is evaluated with the string cascade).
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=${CARRY:-.gpu-linker}
source bench/gpu_env.sh

if [[ ${1:-} == prepare ]]; then
    gpu_prepare
    rm -f "$CARRY/abstracts.jsonl.gz"  # the NER jobs' text; the linker reads ontologies
    gpu_pack_base --layers 2
    # the curated config without its gene sources (linker.yaml), its ontology files, and the linking corpora
    mapfile -t files < <("$PY" - "$CARRY/linker.yaml" <<'PY'
import sys
import yaml
config = yaml.safe_load(open("conf/ontologies-shared-curated.yaml"))
config["linking"]["ontologies"] = [o for o in config["linking"]["ontologies"] if o["entity_class"] != "gene"]
yaml.safe_dump(config, open(sys.argv[1], "w"))
paths = {p for o in config["linking"]["ontologies"] for p in (o["path"], o.get("tree_numbers_path")) if p}
print("\n".join(sorted(p.removeprefix("../shared/data/") for p in paths if p.startswith("../shared/data/ontologies/"))))
PY
    )
    tar cJf "$CARRY/linking.txz" -C ../shared/data "${files[@]}" linking
    du -sh "$CARRY"
    exit 0
fi

gpu_setup
WORK=${WORK:-/tmp/kz-linker}
rm -rf "$WORK" && mkdir -p "$WORK"
if [[ ! -d ../shared/data/ontologies ]]; then
    mkdir -p ../shared/data
    tar xJf "$CARRY/linking.txz" -C ../shared/data
fi
gpu_base "$WORK/minilm"
status=0
"$PY" -m kazu_spark.cli.main train linker --conf "$CARRY/linker.yaml" --base-model "$BASE" --out "$WORK/linker" \
    --epochs "${EPOCHS:-10}" --time-budget-s "${BUDGET_S:-360}" ${LINKER_FLAGS:-} >"$WORK/summary.json" \
    2>"$WORK/train-linker.log" || status=$?
tail -c 2000000 "$WORK/train-linker.log" >"$OUT/train-linker.log"
cp "$WORK/summary.json" "$OUT/summary.json"
if [[ -f $WORK/linker/model.safetensors ]]; then
    gpu_parts "$WORK" linker
fi
exit "$status"
