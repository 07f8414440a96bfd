#!/usr/bin/env bash
# The GPU training job (issue 16; docs/distillation.md, "The GPU training job"): the whole NER recipe, in two
# variants side by side on one lent GPU, from a clean checkout plus one carried folder, .gpu/ (git-ignored).
#
#   bench/gpu_train.sh prepare      # here: bench/gpu_env.sh's wheels and abstracts, plus the NER corpora and
#                                   # BioRED's PubTator train split (ner.txz) and the MiniLM encoder packed into int8 (minilm-int8/: the
#                                   # tree travels in 64 MiB, the bundled model takes 29; tools/pack_encoder.py)
#   OUT=/results bench/gpu_train.sh # there: both variants, then the better student into $OUT
#
# Variants (`kazu-spark train all` each, at the same time; VARIANTS picks, default "cells guided"):
#   base   the bundled model's recipe (docs/distillation.md) on every corpus of conf/labels.yaml (S800,
#          JNLPBA's train split and BioRED's printed train abstracts, `--train-file BioRED=...`, included): one
#          teacher, soft labels, the pruned student;
#   cells  the same, with JNLPBA trained for its cell lines and cell types only (`--train-classes
#          JNLPBA=cell_line,cell_type`): its protein/DNA/RNA spans follow other guidelines than BC2GM's genes;
#   guided the same with guideline markers (`--guidelines 0.5`, kazu_spark/ner/guidelines.py): half of each
#          corpus's sentences carry its marker and all its classes, so JNLPBA's genes are learnt under its marker
#          only; the student learns the teacher's blend (step 6 of the model card, on CPU, gained 0.4 over `cells`);
#   dapt   the encoder's MLM pretraining on the train sentences and the abstracts first (MLM_S seconds), then an
#          ensemble of TEACHERS teachers (seeds 13, 14, ...) whose mean probabilities are the soft labels.
# All tune per-class thresholds on devel and keep them when the two-fold mean F1 gains half a point.
# Budgets in seconds, by environment: MLM_S (45), TEACHER_S (150), STUDENT_S (150); two variants together end
# in about 7.5 minutes on an H200 (the first run, docs/distillation.md, took 463 s with teachers of 100 s). A
# variant still running at DEADLINE_S (540) seconds after the script began is stopped, and the finished one
# comes back. DEVICE is not needed: train all uses CUDA when torch sees it; on a CPU, small budgets try the flow.
#
# Into $OUT (at most 8 files of 16 MiB come back): env.txt; result.json (each variant's mean devel F1 and F1 per
# corpus, the best by mean); results.tgz (per variant summary-<v>.json and train-<v>.log); the students of the
# BRING (2) best variants, each folder as student-<v>.tar in 15 MiB parts (student-<v>.tar.part-aa, -ab, ...): the
# best by mean is not always the one to bundle (docs/distillation.md, "The first run"). Here, `cat
# student-<v>.tar.part-* | tar -x -C DIR` gives DIR/student, which replaces kazu_spark/resources/model
# (docs/distillation.md says how).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/gpu_env.sh

if [[ ${1:-} == prepare ]]; then
    gpu_prepare
    tar cJf "$CARRY/ner.txz" -C ../shared/data ner linking/biored/train.txt
    gpu_pack_base
    du -sh "$CARRY"
    exit 0
fi

gpu_setup
WORK=${WORK:-/tmp/kz-train}
rm -rf "$WORK" && mkdir -p "$WORK"
tar xJf "$CARRY/ner.txz" -C "$WORK"
gpu_base "$WORK/minilm"
common=(train all --corpora "$WORK/ner" --train-file "BioRED=$WORK/linking/biored/train.txt"
        --unlabelled "$CORPUS" --base-model "$BASE" --batch-size 32
        --teacher-epochs 8 --student-epochs 12 --student-lr 1.5e-4
        --teacher-budget-s "${TEACHER_S:-150}" --student-budget-s "${STUDENT_S:-150}")
declare -A extra=([base]="" [cells]="--train-classes JNLPBA=cell_line,cell_type"
                  [guided]="--train-classes JNLPBA=cell_line,cell_type --guidelines 0.5"
                  [dapt]="--mlm --mlm-budget-s ${MLM_S:-45} --teachers ${TEACHERS:-3}")
declare -A pid=()
variants=${VARIANTS:-cells guided}
for v in $variants; do
    # shellcheck disable=SC2086  # the variant's flags are words
    "$PY" -m kazu_spark.cli.main "${common[@]}" --out "$WORK/$v" ${extra[$v]} >"$WORK/train-$v.log" 2>&1 &
    pid[$v]=$!
done
# a variant still running at DEADLINE_S (seconds since this script began) is stopped, so that the ones that
# finished still come back inside the device call's limit
status=0
for v in "${!pid[@]}"; do
    while kill -0 "${pid[$v]}" 2>/dev/null && ((SECONDS < ${DEADLINE_S:-540})); do sleep 1; done
    if kill -0 "${pid[$v]}" 2>/dev/null; then
        pkill -P "${pid[$v]}" || true
        kill "${pid[$v]}" || true
        echo "$v: stopped at the deadline (${DEADLINE_S:-540} s)" | tee -a "$WORK/train-$v.log"
    fi
    wait "${pid[$v]}" || status=$?
done
mkdir -p "$WORK/results"
for v in $variants; do
    tail -c 2000000 "$WORK/train-$v.log" >"$WORK/results/train-$v.log"
    [[ -f $WORK/$v/summary.json ]] && cp "$WORK/$v/summary.json" "$WORK/results/summary-$v.json"
done
"$PY" - "$WORK" "$OUT" "${BRING:-2}" $variants <<'PY'
import json, sys
from pathlib import Path

work, out, bring, variants = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
done = {v: json.loads((work / v / "summary.json").read_text()) for v in variants if (work / v / "summary.json").is_file()}
scores = {v: {k: s.get(k, {}).get("mean_f1") for k in ("teacher", "student")} for v, s in done.items()}
f1 = {v: s.get("student", {}).get("f1") for v, s in done.items()}
ranked = sorted((v for v in scores if scores[v]["student"] is not None), key=lambda v: -scores[v]["student"])
result = {"mean_f1": scores, "student_f1": f1, "chosen": ranked[0] if ranked else None, "students": ranked[:bring]}
(out / "result.json").write_text(json.dumps(result, indent=1) + "\n")
print(json.dumps(result))
(work / "students").write_text(" ".join(ranked[:bring]))
PY
tar czf "$OUT/results.tgz" -C "$WORK/results" .
for v in $(cat "$WORK/students"); do
    gpu_parts "$WORK/$v" student "student-$v"
done
exit "$status"
