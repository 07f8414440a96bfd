"""The reliability suite: faults injected into real annotate runs, hostile input, bad input, log hygiene.

Every fault test compares the lakehouse it leaves with a clean run's over the same input (same
documents, same entity ids and link ids, no duplicate, no loss) and records the outcome with the
``reliability_record`` fixture; ``tests/reliability_report.py`` renders those records into
docs/reliability.md (``make reliability`` runs both).

The model is the tiny one of ``conftest.build_model_dir``: its head fires on every sub-token, so every
document yields entities and every offset is checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml
from conftest import build_model_dir
from pyspark.sql import SparkSession

from kazu_spark.config import Config, load_config
from kazu_spark.errors import InputError, KazuSparkError
from kazu_spark.lakehouse.delta import read_table
from kazu_spark.paths import resolve_path
from kazu_spark.pipeline.annotate import annotate, ensure_ontology_terms
from kazu_spark.pipeline.faults import ENV_VAR
from kazu_spark.runtime import worker_daemon
from kazu_spark.runtime.session import jars_dir

pytestmark = [pytest.mark.spark, pytest.mark.reliability]

REPO = Path(__file__).parents[1]
#: what the suite compares between a faulted and a clean lakehouse: table -> key column
KEYED = {"documents": "doc_id", "entities": "entity_id", "entity_links": "link_id", "quarantine": "quarantine_id"}
SECRET = "s3cr3t-T0KEN-value-42"


def _write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _keys(spark: SparkSession, lakehouse: str) -> dict[str, list[str]]:
    """Each compared table's key column, sorted, duplicates kept (so a duplicate shows as a difference)."""
    return {t: sorted(r[0] for r in read_table(spark, lakehouse, t).select(k).collect()) for t, k in KEYED.items()}


def _lost_and_duplicated(got: dict[str, list[str]], clean: dict[str, list[str]]) -> dict[str, int]:
    out = {}
    for table in ("documents", "entities"):
        have, want = Counter(got[table]), Counter(clean[table])
        out[f"{table}_lost"] = sum((want - have).values())
        out[f"{table}_duplicated"] = sum(n - 1 for n in have.values() if n > 1) + len(set(have) - set(want))
    return out


@pytest.fixture(scope="module")
def results_dir() -> Path:
    """Where each fault's JSON record goes ($KAZU_SPARK_RELIABILITY_DIR, default build/reliability)."""
    folder = Path(os.environ.get("KAZU_SPARK_RELIABILITY_DIR", REPO / "build" / "reliability"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def reliability_record(results_dir: Path, request: pytest.FixtureRequest):
    """Call with the fault's description and outcome; writes ``<results_dir>/<test name>.json``."""

    def record(fault: str, survived: bool, **figures: object) -> None:
        name = request.node.name.replace("/", "_")
        row = {"test": request.node.nodeid, "fault": fault, "survived": survived, **figures}
        (results_dir / f"{name}.json").write_text(json.dumps(row, indent=1), encoding="utf-8")

    return record


@pytest.fixture(scope="module")
def setup(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Tiny model, 8 real abstracts plus one bad row, a built ontology_terms table to copy into each lake."""
    root = tmp_path_factory.mktemp("reliability")
    with open(resolve_path("pkg://kazu_spark/resources/sample/abstracts.jsonl"), encoding="utf-8") as handle:
        rows = [json.loads(line) for _, line in zip(range(8), handle, strict=False)]
    rows.append({"pmid": "no-text", "title": " ", "abstract": None})
    hgnc = root / "hgnc.tsv"  # a tiny gene ontology whose symbols are words the tiny model tags as genes
    header = "hgnc_id\tsymbol\tname\tstatus\talias_symbol\talias_name\tprev_symbol\tprev_name\n"
    words = ("cancer", "patients", "cells", "protein", "expression", "the", "of")
    hgnc.write_text(header + "".join(f"HGNC:{i}\t{w}\t{w}\tApproved\t\t\t\t\n" for i, w in enumerate(words)))
    base = load_config(
        overrides={
            "input.path": _write_jsonl(root / "in.jsonl", rows),
            "lakehouse": str(root / "terms"),
            "linking.ontologies": [{"name": "HGNC", "format": "hgnc", "entity_class": "gene", "path": str(hgnc)}],
            "ner.model": str(build_model_dir(root / "model")),
            "ner.arrow_batch_rows": "2",  # several batches per partition: a worker dies mid-partition
            "ner.partitions": "2",
            # exact and normalised links only: the faults are in the write protocol, not in linking's strategies
            "linking.steps": "[exact, normalised]",
            "linking.disambiguation.enabled": "false",
            "linking.abbreviations": "false",
        }
    )
    ensure_ontology_terms(spark, base)
    return {"root": root, "cfg": base, "rows": rows}


def _lake(setup: dict, name: str) -> Config:
    """A config writing to a fresh lakehouse that already holds the prebuilt ontology_terms."""
    lake = setup["root"] / name
    shutil.copytree(setup["root"] / "terms" / "ontology_terms", lake / "ontology_terms")
    return setup["cfg"].model_copy(update={"lakehouse": str(lake)})


@pytest.fixture(scope="module")
def clean(spark: SparkSession, setup: dict) -> dict[str, list[str]]:
    """The clean run's keys, which every faulted run must reproduce."""
    cfg = _lake(setup, "clean")
    summary = annotate(spark, cfg)
    assert summary.documents == 8 and summary.quarantined == 1 and summary.entities > 0 and summary.links > 0
    return _keys(spark, cfg.lakehouse)


def _failed_tasks(spark: SparkSession, group: str) -> int:
    tracker = spark.sparkContext.statusTracker()
    stages = [s for job in tracker.getJobIdsForGroup(group) for s in tracker.getJobInfo(job).stageIds]
    return sum(info.numFailedTasks for s in stages if (info := tracker.getStageInfo(s)) is not None)


class _PeakRss:
    """Samples the resident memory of this process's Spark Python workers every 20 ms (psutil)."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.02):
            for proc in me.children(recursive=True):
                try:
                    if proc.cmdline()[1:3] in (["-m", "pyspark.daemon"], ["-m", worker_daemon.__name__]):
                        self.peak_mb = max(self.peak_mb, proc.memory_info().rss / 2**20)
                except psutil.Error:
                    continue

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _annotate_in_group(spark: SparkSession, cfg: Config, group: str, description: str) -> int:
    """Annotate with the Spark jobs in job group ``group``; return how many of the group's tasks failed."""
    spark.sparkContext.setJobGroup(group, description)
    try:
        annotate(spark, cfg)
    finally:
        spark.sparkContext.setJobGroup("", "")
    return _failed_tasks(spark, group)


def _annotate_cli(cfg: Config, faults: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`kazu-spark annotate --conf <cfg> ARGS` in a child process (its own driver JVM) with fault injection in its
    environment: the CLI's defaults (its master among them) unless ``ARGS`` set something, and no $SPARK_MASTER."""
    conf = Path(cfg.lakehouse).with_suffix(".yaml")
    conf.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    command = [sys.executable, "-m", "kazu_spark.cli.main", "annotate", "--conf", str(conf), *args]
    env = {k: v for k, v in os.environ.items() if k != "SPARK_MASTER"} | {
        ENV_VAR: faults,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "KAZU_SPARK_JARS": str(jars_dir()),
    }
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def _lost_tasks(spark_log: str) -> int:
    """Failed task attempts in a Spark driver's log (its scheduler warns ``Lost task 1.0 in stage 7.0 ...``)."""
    return len(re.findall(r"\bLost task \d+\.\d+ in stage ", spark_log))


def test_python_worker_killed_mid_partition_is_retried(spark, setup, clean, reliability_record) -> None:
    """`kazu-spark annotate` as shipped (no --master, no $SPARK_MASTER): a NER worker SIGKILLed after 3 documents
    of its partition costs one task attempt, which Spark retries, and the lakehouse equals the clean run's."""
    cfg = _lake(setup, "worker_kill")
    done = _annotate_cli(cfg, "kill_worker_after_docs=3")
    assert done.returncode == 0, done.stderr[-3000:]
    killed = _lost_tasks(done.stderr)
    got = _keys(spark, cfg.lakehouse)
    figures = _lost_and_duplicated(got, clean)
    reliability_record(
        "Python worker SIGKILLed mid-partition (first attempt), `kazu-spark annotate` with its default master",
        got == clean,
        injected=killed,
        **figures,
    )
    assert killed >= 1, done.stderr[-3000:]  # the fault fired: a NER task failed and was retried
    assert got == clean


def test_driver_killed_after_entities_then_rerun(spark, setup, clean, reliability_record) -> None:
    """The driver dies after appending entities, before writing documents; a plain rerun heals the lakehouse."""
    cfg = _lake(setup, "driver_kill")
    secret = f"spark.conf={{spark.hadoop.fs.s3a.secret.key: {SECRET}}}"
    killed = _annotate_cli(cfg, "kill_driver_after=entities", "--set", secret)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    half = _keys(spark, cfg.lakehouse)
    assert half["entities"] and not half["documents"]  # the killed run left entities of unfinished documents
    logs = killed.stdout + killed.stderr
    assert SECRET not in logs  # a secret Spark setting is masked in the INFO config line
    assert '"spark.hadoop.fs.s3a.secret.key": "***"' in logs
    texts = [r.get("abstract") for r in setup["rows"] if r.get("abstract")]
    leaked = [t[:40] for t in texts if t[:40] in logs or t[-40:] in logs]
    assert not leaked  # no document text in the driver's INFO logs

    summary = annotate(spark, cfg)
    got = _keys(spark, cfg.lakehouse)
    figures = _lost_and_duplicated(got, clean)
    reliability_record("driver SIGKILLed after entities, before documents; rerun", got == clean, injected=1, **figures)
    assert summary.documents == 8  # the unfinished documents were annotated again, not skipped
    assert got == clean


def test_memory_guard_reschedules_a_worker_over_the_ceiling(spark, setup, clean, reliability_record) -> None:
    """Big batches and a ceiling no worker can meet: the guard ends each task's first attempt, the retry finishes."""
    cfg = _lake(setup, "memory")
    cfg = cfg.model_copy(
        update={"ner": cfg.ner.model_copy(update={"max_batch_tokens": 65536, "worker_memory_limit_mb": 1.0})}
    )
    with _PeakRss() as rss:
        exits = _annotate_in_group(spark, cfg, "memory-guard", "reliability: memory guard")
    got = _keys(spark, cfg.lakehouse)
    figures = _lost_and_duplicated(got, clean)
    reliability_record(
        "worker RSS over ner.worker_memory_limit_mb (guard ends the attempt)",
        got == clean,
        injected=exits,
        peak_worker_rss_mb=round(rss.peak_mb),
        **figures,
    )
    assert exits >= 1 and rss.peak_mb > 0
    assert got == clean


def test_big_batches_stay_under_a_reachable_ceiling(spark, setup, clean, reliability_record) -> None:
    """A 16x token budget under a 2 GiB ceiling: every worker stays below it, no attempt is ended, nothing changes."""
    ceiling = 2048
    cfg = _lake(setup, "memory_ok")
    cfg = cfg.model_copy(
        update={"ner": cfg.ner.model_copy(update={"max_batch_tokens": 65536, "worker_memory_limit_mb": ceiling})}
    )
    with _PeakRss() as rss:
        exits = _annotate_in_group(spark, cfg, "memory-ok", "reliability: big batches under a ceiling")
    got = _keys(spark, cfg.lakehouse)
    reliability_record(
        f"big batches (65,536-token budget) under a {ceiling} MiB worker ceiling",
        got == clean and rss.peak_mb <= ceiling,
        injected=1,
        peak_worker_rss_mb=round(rss.peak_mb),
        **_lost_and_duplicated(got, clean),
    )
    assert exits == 0 and 0 < rss.peak_mb <= ceiling
    assert got == clean


# --- hostile documents -------------------------------------------------------------------------------------------

#: (id, title, text) rows, each a way a real corpus goes wrong; the expected outcome is in HOSTILE_OUTCOME
HOSTILE = [
    ("null", None, None),
    ("empty", "", ""),
    ("blank", " \t", "\n \u00a0\u3000"),
    ("huge", None, "Aspirin relieves pain. " * 220_000),  # ~5 MB
    ("words-25k", None, "BRCA1 " * 25_000),  # ~200 windows of 128 sub-tokens
    ("controls", "Ctrl\x00\x01", "Tab\tbell\x07 escape\x1b[31m NEL\x85 LS\u2028PS\u2029 DEL\x7f end"),
    ("latin1-junk", None, bytes(range(1, 256)).decode("latin-1")),
    ("markup", "<h1>Title</h1>", '<p class="x">BRCA1 &amp; <b>TP53</b></p><![CDATA[ <x> ]]><!-- c --><?pi?>'),
    ("rtl-cjk", "عنوان", "שלום BRCA1 مرحبا 乳腺癌 患者 𠀀𝛼-synuclein 👩‍🔬 e\u0301"),
    ("long-token", None, "x" * 10_000),
    ("normal-1", "Aspirin and pain", "Aspirin eases pain in BRCA1 carriers."),
    ("normal-2", None, "TP53 mutations are common in breast cancer."),
]
HOSTILE_OUTCOME = {"null": "empty_text", "empty": "empty_text", "blank": "empty_text", "huge": "text_too_long"}


def _hostile_input(folder: Path) -> str:
    path = folder / "hostile.jsonl"
    lines = [json.dumps({"id": i, "title": t, "text": x}, ensure_ascii=False).encode() for i, t, x in HOSTILE]
    lines += [
        b'{"id": "surrogate", "text": "lone \\ud800 surrogate"}',
        b'{"id": "bad-utf8", "text": "caf\xe9 \xff\xfe"}',
        bytes(range(14, 256)),  # binary junk: not UTF-8, no id
        b'{"id": "dup", "text": "first text"}',
        b'{"id": "dup", "text": "second text"}',
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return str(path)


def test_hostile_documents_are_annotated_or_quarantined(spark, setup, tmp_path, reliability_record) -> None:
    cfg = _lake(setup, "hostile")
    cfg = cfg.model_copy(update={"input": cfg.input.model_copy(update={"path": _hostile_input(tmp_path)})})
    summary = annotate(spark, cfg)

    docs = read_table(spark, cfg.lakehouse, "documents")
    stored = {r.doc_id for r in docs.select("doc_id").collect()}
    quarantined = [(r.source_id, r.reason) for r in read_table(spark, cfg.lakehouse, "quarantine").collect()]
    expected_docs = {i for i, _, _ in HOSTILE if i not in HOSTILE_OUTCOME} | {"dup"}
    assert stored == expected_docs
    assert sorted(quarantined, key=str) == sorted(
        [*HOSTILE_OUTCOME.items(), ("surrogate", "read_error"), (None, "read_error"), (None, "read_error"),
         ("dup", "conflicting_duplicate_id")], key=str,
    )  # fmt: skip
    texts = {r.doc_id: r.text for r in docs.select("doc_id", "text").collect()}
    rows = (
        read_table(spark, cfg.lakehouse, "entities").select("entity_id", "doc_id", "start", "end", "mention").collect()
    )
    bad = [  # offsets checked here, not in a join that would copy a 150 kB text into each of 75k entity rows
        r for r in rows
        if not (0 <= r.start < r.end <= len(texts[r.doc_id])) or texts[r.doc_id][r.start : r.end] != r.mention
        or not r.mention.strip()
    ]  # fmt: skip
    per_doc = Counter(r.doc_id for r in rows)
    duplicated = len(rows) - len({r.entity_id for r in rows})
    reliability_record(
        "hostile documents (16 kinds) in one input",
        True,
        injected=len(HOSTILE) + 5,
        documents_lost=len(expected_docs - stored),
        documents_duplicated=docs.count() - len(stored),
        entities_duplicated=duplicated,
        quarantined=len(quarantined),
    )
    assert bad == [] and duplicated == 0
    assert per_doc["words-25k"] >= 25_000 and per_doc["normal-1"] > 0 and per_doc["rtl-cjk"] > 0
    assert summary.documents == len(expected_docs)


# --- bad input: a clear error before anything is written ---------------------------------------------------------


def _bad_inputs(folder: Path) -> Iterator[tuple[str, str, str]]:
    """(case, path, expected error pattern)."""
    yield "missing path", str(folder / "nope.jsonl"), "does not exist"
    (folder / "docs.csv").write_text("id,text\n1,a\n")
    yield "unknown format", str(folder / "docs.csv"), "cannot detect the format"
    pd.DataFrame({"pmid": ["1"], "body": ["B"]}).to_parquet(folder / "no_text.parquet")
    yield "missing text column", str(folder / "no_text.parquet"), "no text column"
    pd.DataFrame({"id": ["1"], "text": [["a", "list"]]}).to_parquet(folder / "nested.parquet")
    yield "wrong column type", str(folder / "nested.parquet"), r"column 'text' has type array<string>; expected"
    (folder / "junk.parquet").write_bytes(b"not parquet at all")
    yield "corrupt file", str(folder / "junk.parquet"), "cannot read"


def test_bad_input_fails_before_anything_is_written(spark, setup, tmp_path, reliability_record) -> None:
    failures = {}
    for case, path, pattern in _bad_inputs(tmp_path):
        lake = tmp_path / f"lake-{case.replace(' ', '-')}"
        cfg = setup["cfg"].model_copy(
            update={"lakehouse": str(lake), "input": setup["cfg"].input.model_copy(update={"path": path})}
        )
        with pytest.raises(InputError, match=pattern):
            annotate(spark, cfg)
        failures[case] = sorted(p.name for p in lake.glob("*")) if lake.exists() else []
    reliability_record(
        f"bad input ({', '.join(failures)})", all(not v for v in failures.values()), injected=len(failures)
    )
    assert failures == dict.fromkeys(failures, [])  # not even an empty table was created


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file whatever its permissions")
def test_unreadable_input_is_an_input_error(spark, setup, tmp_path) -> None:
    path = tmp_path / "secret.jsonl"
    path.write_text('{"id": "1", "text": "a"}\n')
    path.chmod(0)
    cfg = setup["cfg"].model_copy(
        update={"lakehouse": str(tmp_path / "lake"), "input": setup["cfg"].input.model_copy(update={"path": str(path)})}
    )
    with pytest.raises(InputError, match="cannot read"):
        annotate(spark, cfg)
    assert not (tmp_path / "lake").exists()


def _bad_runs(folder: Path, cfg: Config) -> Iterator[tuple[str, Config, str]]:
    """(case, config, expected error pattern): a model the workers could not load, a lakehouse inside the input."""

    def with_model(path: Path, **ner: object) -> Config:
        return cfg.model_copy(update={"ner": cfg.ner.model_copy(update={"model": str(path), **ner})})

    yield "missing model path", with_model(folder / "no-model"), "does not exist"
    (folder / "empty-pack").mkdir()
    yield "model pack without a model", with_model(folder / "empty-pack"), "not a model folder"
    pickled = build_model_dir(folder / "pack" / "tinybern2", safetensors=False).parent
    yield "pickled weights", with_model(pickled), "refused unless you opt in"
    wrong_labels = build_model_dir(folder / "labels", labels=["O", "B-gene", "I-gene"])
    yield "labels not matching the head", with_model(wrong_labels), "the classifier head has 13 outputs"
    broken = build_model_dir(folder / "broken")
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    yield "unreadable config.json", with_model(broken), "config.json is not a JSON object"
    docs = folder / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("BRCA1 in mice.", encoding="utf-8")
    inside = cfg.model_copy(update={"input": cfg.input.model_copy(update={"path": str(docs)})})
    yield "lakehouse inside the input folder", inside.model_copy(update={"lakehouse": str(docs / "lake")}), "inside"


def test_bad_model_or_lakehouse_fails_before_anything_is_written(spark, setup, tmp_path, reliability_record) -> None:
    """Issue 20: a bad model was found only after ingest, in the workers; a lakehouse inside the input folder
    was read back as input by the next run. Both now fail on the driver, with the error naming the problem."""
    failures = {}
    for case, cfg, pattern in _bad_runs(tmp_path, setup["cfg"]):
        lake = Path(cfg.lakehouse) if case.startswith("lakehouse") else tmp_path / f"lake-{case.replace(' ', '-')}"
        cfg = cfg.model_copy(update={"lakehouse": str(lake)})
        with pytest.raises(KazuSparkError, match=pattern):
            annotate(spark, cfg)
        failures[case] = sorted(p.name for p in lake.glob("*")) if lake.exists() else []
    reliability_record(
        f"bad model or lakehouse ({', '.join(failures)})", all(not v for v in failures.values()), injected=len(failures)
    )
    assert failures == dict.fromkeys(failures, [])  # not even an empty table was created
