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
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import build_model_dir, sample_rows
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from kazu_spark.cli.annotate import STRICT_EXIT
from kazu_spark.cli.main import main
from kazu_spark.config import Config, load_config
from kazu_spark.documents.ingest import REASONS, ingest_row
from kazu_spark.documents.readers import PARSED_COLUMNS, parse_jsonl_records, parse_pubtator_record
from kazu_spark.errors import InputError, KazuSparkError
from kazu_spark.kg.build import build_kg
from kazu_spark.lakehouse.delta import read_table
from kazu_spark.paths import resolve_path
from kazu_spark.pipeline.annotate import annotate, ensure_ontology_terms
from kazu_spark.pipeline.faults import ENV_VAR
from kazu_spark.pipeline.hooks import Hooks
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
    """Samples the resident memory of this process's Spark Python workers every 20 ms (psutil); with
    ``kill_above_mb``, SIGKILLs a worker above it (counted in ``killed``), so a test of a memory ceiling
    that the code misses fails its task instead of pushing the machine into swap."""

    def __init__(self, kill_above_mb: float | None = None) -> None:
        self.peak_mb = 0.0
        self.kill_above_mb = kill_above_mb
        self.killed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.02):
            for proc in me.children(recursive=True):
                try:
                    if proc.cmdline()[1:3] in (["-m", "pyspark.daemon"], ["-m", worker_daemon.__name__]):
                        rss = proc.memory_info().rss / 2**20
                        self.peak_mb = max(self.peak_mb, rss)
                        if self.kill_above_mb is not None and rss > self.kill_above_mb:
                            proc.kill()
                            self.killed += 1
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
        update={"worker_memory_limit_mb": 1.0, "ner": cfg.ner.model_copy(update={"max_batch_tokens": 65536})}
    )
    with _PeakRss() as rss:
        exits = _annotate_in_group(spark, cfg, "memory-guard", "reliability: memory guard")
    got = _keys(spark, cfg.lakehouse)
    figures = _lost_and_duplicated(got, clean)
    reliability_record(
        "worker RSS over worker_memory_limit_mb (guard ends the attempt)",
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
        update={"worker_memory_limit_mb": ceiling, "ner": cfg.ner.model_copy(update={"max_batch_tokens": 65536})}
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


# --- one big document: bounded memory in every Python stage ----------------------------------------------------

#: a gene ontology for the tiny model (which tags every word a gene): frequent words of the abstracts each name two
#: concepts, so a big document has thousands of ambiguous links for disambiguation, besides abbreviations, fuzzy
#: lookups of every other word and the knowledge graph's sentences
AMBIGUOUS_GENES = [
    ("HGNC:1", "cells", "cells of the immune system", "cells|patients"),
    ("HGNC:2", "CELLS2", "cell line culture medium", "cells"),
    ("HGNC:3", "patients", "patients with breast cancer", "patients"),
    ("HGNC:4", "cancer", "tumour growth and metastasis", "cancer"),
    ("HGNC:5", "CANCER2", "cancer registry statistics", "cancer"),
    ("HGNC:6", "expression", "gene expression levels", "expression"),
    ("HGNC:7", "the", "the", ""),
    ("HGNC:8", "of", "of", ""),
    ("HGNC:9", "mTOR", "mechanistic target of rapamycin kinase", "FRAP1"),  # a short form the abstracts define
]


@pytest.fixture(scope="module")
def big_setup(spark: SparkSession, setup: dict) -> dict:
    """The reliability model with every linking strategy on, over the ambiguous gene ontology (terms built once)."""
    root = setup["root"] / "big"
    hgnc = root / "genes.tsv"
    root.mkdir()
    header = "hgnc_id\tsymbol\tname\tstatus\talias_symbol\talias_name\tprev_symbol\tprev_name\n"
    rows = "".join(f"{i}\t{symbol}\t{name}\tApproved\t{alias}\t\t\t\n" for i, symbol, name, alias in AMBIGUOUS_GENES)
    hgnc.write_text(header + rows)
    sources = [source.model_copy(update={"path": str(hgnc)}) for source in setup["cfg"].linking.ontologies]
    cfg = setup["cfg"].model_copy(
        update={
            "lakehouse": str(root / "terms"),
            "linking": load_config().linking.model_copy(update={"ontologies": sources}),
            "ner": setup["cfg"].ner.model_copy(update={"arrow_batch_rows": 256, "partitions": 2}),
        }
    )
    ensure_ontology_terms(spark, cfg)
    return {"root": root, "cfg": cfg}


def _big_document(chars: int) -> str:
    """``chars`` characters of the bundled abstracts (title, abstract), repeated as often as needed."""
    with open(resolve_path("pkg://kazu_spark/resources/sample/abstracts.jsonl"), encoding="utf-8") as handle:
        abstracts = [f"{r['title']} {r['abstract']}" for r in map(json.loads, handle)]
    text = "\n\n".join(abstracts)
    return ((text + "\n\n") * (chars // len(text) + 1))[:chars]


class _StageGroups(Hooks):
    """Runs each annotate stage's Spark jobs in job group ``<prefix>:<stage>``, to count failed tasks per stage."""

    def __init__(self, spark: SparkSession, prefix: str) -> None:
        self.spark, self.prefix = spark, prefix

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.spark.sparkContext.setJobGroup(f"{self.prefix}:{name}", name)
        try:
            yield
        finally:
            self.spark.sparkContext.setJobGroup("", "")


def test_memory_guard_covers_dictionary_ner_and_linking(spark, big_setup, reliability_record) -> None:
    """A ceiling no worker can meet, with dictionary NER and every linking strategy: the guard ends the first
    attempt of the dictionary, abbreviation, fuzzy and disambiguation tasks too, and the retries give the rows of
    a run without a ceiling."""

    def run(name: str, limit: float | None) -> tuple[dict[str, list[str]], Counter]:
        lake = big_setup["root"] / name
        shutil.copytree(big_setup["root"] / "terms" / "ontology_terms", lake / "ontology_terms")
        cfg = big_setup["cfg"]
        ner = cfg.ner.model_copy(update={"steps": ["dictionary"]})  # no model: every NER failure is the dictionary's
        linking = cfg.linking.model_copy(update={"batch_entities": 0})  # linked by Spark tasks, not on the driver
        update = {"lakehouse": str(lake), "worker_memory_limit_mb": limit, "ner": ner, "linking": linking}
        cfg = cfg.model_copy(update=update)
        annotate(spark, cfg, hooks=_StageGroups(spark, name))
        stages = ("ner", "linking", "write links")
        return _keys(spark, cfg.lakehouse), Counter({s: _failed_tasks(spark, f"{name}:{s}") for s in stages})

    clean, _ = run("guard-off", None)
    got, exits = run("guard-all", 1.0)
    reliability_record(
        "worker RSS over worker_memory_limit_mb in dictionary NER and linking (guard ends the attempts)",
        got == clean,
        injected=exits.total(),
        **_lost_and_duplicated(got, clean),
    )
    assert exits["ner"] >= 1  # dictionary NER
    assert exits["linking"] + exits["write links"] >= 3  # abbreviations, fuzzy, disambiguation (and recomputations)
    assert got == clean and got["entity_links"]


@pytest.mark.heavy
@pytest.mark.parametrize("chars", [1_000_000, 1_200_000], ids=["at-max-chars", "above-max-chars"])
def test_one_big_document_stays_under_a_2_gib_worker_ceiling(spark, big_setup, chars, reliability_record) -> None:
    """One document at the default input.max_chars, and one above it (limit raised): annotate and kg build with
    every linking strategy, under a 2048 MiB worker ceiling. Before, linking shipped the document's text with each
    of its ambiguous links to the disambiguation worker (a 2,000,000-character document: 17.6 GiB, killed)."""
    ceiling = 2048
    name = f"big-{chars}"
    lake = big_setup["root"] / name
    shutil.copytree(big_setup["root"] / "terms" / "ontology_terms", lake / "ontology_terms")
    text = _big_document(chars)
    cfg = big_setup["cfg"].model_copy(
        update={
            "lakehouse": str(lake),
            "worker_memory_limit_mb": ceiling,
            "input": big_setup["cfg"].input.model_copy(
                update={"path": _write_jsonl(lake.parent / f"{name}.jsonl", [{"id": name, "text": text}]),
                        "max_chars": max(chars, load_config().input.max_chars)}
            ),
        }
    )  # fmt: skip
    with _PeakRss(kill_above_mb=ceiling + 1024) as rss:
        spark.sparkContext.setJobGroup(name, "reliability: one big document")
        try:
            summary = annotate(spark, cfg)
            graph = build_kg(spark, cfg.lakehouse, name, config_hash="test")
        finally:
            spark.sparkContext.setJobGroup("", "")
    exits = _failed_tasks(spark, name)
    named = Counter(n for _, symbol, _, aliases in AMBIGUOUS_GENES for n in {symbol, *aliases.split("|")} - {""})
    words = [word for word, concepts in named.items() if concepts > 1]  # synonyms of two concepts
    ambiguous = read_table(spark, cfg.lakehouse, "entities").where(F.col("mention").isin(words)).count()
    reliability_record(
        f"one {len(text):,}-character document ({summary.entities:,} entities, {ambiguous:,} ambiguous), "
        f"annotate + kg build under a {ceiling} MiB worker ceiling",
        summary.documents == 1 and exits == 0 and rss.peak_mb <= ceiling,
        injected=1,
        documents_lost=1 - summary.documents,
        peak_worker_rss_mb=round(rss.peak_mb),
    )
    assert len(text) == chars and summary.documents == 1 and summary.quarantined == 0
    assert summary.entities > 100_000 and ambiguous > 1_000  # the tiny model tags every word; many ambiguous ones
    assert graph["kg_edges.CO_OCCURS_SENTENCE"] > 0
    assert exits == 0 and rss.killed == 0 and 0 < rss.peak_mb <= ceiling


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
#: JSON lines whose id or text has the wrong type, or an empty id hiding the pmid (HOSTILE_JSON_OUTCOME)
HOSTILE_JSON = [
    b'{"id": true, "text": "a boolean id"}',
    b'{"id": {"nested": 1}, "text": "an object id"}',
    b'{"id": "number-text", "text": 42}',
    b'{"id": "list-title", "title": ["a", "b"], "text": "x"}',
    b'{"id": "", "pmid": "pmid-fallback", "text": "Aspirin eases pain."}',
    b'{"id": 4242, "text": "An integer id."}',
]
HOSTILE_JSON_OUTCOME = [(None, "invalid_id"), (None, "invalid_id"), ("number-text", "invalid_text"),
                        ("list-title", "invalid_text")]  # fmt: skip


def _hostile_input(folder: Path) -> str:
    path = folder / "hostile.jsonl"
    lines = [json.dumps({"id": i, "title": t, "text": x}, ensure_ascii=False).encode() for i, t, x in HOSTILE]
    lines += [
        b'{"id": "surrogate", "text": "lone \\ud800 surrogate"}',
        b'{"id": "bad-utf8", "text": "caf\xe9 \xff\xfe"}',
        bytes(range(14, 256)),  # binary junk: not UTF-8, no id
        b'{"id": "dup", "text": "first text"}',
        b'{"id": "dup", "text": "second text"}',
        *HOSTILE_JSON,
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
    expected_docs = {i for i, _, _ in HOSTILE if i not in HOSTILE_OUTCOME} | {"dup", "pmid-fallback", "4242"}
    assert stored == expected_docs
    assert sorted(quarantined, key=str) == sorted(
        [*HOSTILE_OUTCOME.items(), ("surrogate", "read_error"), (None, "invalid_utf8"), (None, "invalid_utf8"),
         ("dup", "conflicting_duplicate_id"), *HOSTILE_JSON_OUTCOME], key=str,
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
    kinds = 16 + len(HOSTILE_JSON)
    reliability_record(
        f"hostile documents ({kinds} kinds: wrong JSON types and an empty id included) in one input",
        True,
        injected=len(HOSTILE) + 5 + len(HOSTILE_JSON),
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
    (folder / "mixed").mkdir()
    for name in ("part-0.jsonl", "part-1.jsonl", "notes.csv"):
        (folder / "mixed" / name).write_text('{"id": "1", "text": "a"}\n')
    yield "folder of mixed formats", str(folder / "mixed"), r"1 of its 3 entries are not jsonl: \['notes.csv'\]"


def _fails_before_writing(
    spark: SparkSession,
    runs: Iterator[tuple[str, Config, str]],
    error: type[Exception],
    fault: str,
    reliability_record: Callable[..., None],
) -> None:
    """Annotate each run's ``(case, config, pattern)``: each must raise ``error`` matching ``pattern`` and leave
    nothing in its lakehouse, not even an empty table; recorded as ``fault`` with the cases."""
    failures = {}
    for case, cfg, pattern in runs:
        with pytest.raises(error, match=pattern):
            annotate(spark, cfg)
        lake = Path(cfg.lakehouse)
        failures[case] = sorted(p.name for p in lake.glob("*")) if lake.exists() else []
    reliability_record(
        f"{fault} ({', '.join(failures)})", all(not v for v in failures.values()), injected=len(failures)
    )
    assert failures == dict.fromkeys(failures, [])  # not even an empty table was created


def _lake_for(folder: Path, case: str) -> str:
    return str(folder / f"lake-{case.replace(' ', '-')}")


def test_bad_input_fails_before_anything_is_written(spark, setup, tmp_path, reliability_record) -> None:
    cfg = setup["cfg"]
    runs = (
        (case, cfg.model_copy(update={"lakehouse": _lake_for(tmp_path, case), "input": cfg.input.model_copy(
            update={"path": path})}), pattern)
        for case, path, pattern in _bad_inputs(tmp_path)
    )  # fmt: skip
    _fails_before_writing(spark, runs, InputError, "bad input", reliability_record)


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
    runs = (
        (case, cfg if case.startswith("lakehouse") else cfg.model_copy(update={"lakehouse": _lake_for(tmp_path, case)}),
         pattern)
        for case, cfg, pattern in _bad_runs(tmp_path, setup["cfg"])
    )  # fmt: skip
    _fails_before_writing(spark, runs, KazuSparkError, "bad model or lakehouse", reliability_record)


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


# --- inputs that failed a run or vanished without a trace (issue 20) ---------------------------------------------


def _with_input(cfg: Config, path: Path | str, **ner: object) -> Config:
    update = {"input": cfg.input.model_copy(update={"path": str(path)})}
    return cfg.model_copy(update=update | ({"ner": cfg.ner.model_copy(update=ner)} if ner else {}))


def test_binary_column_not_utf8_is_quarantined_and_kept_out_of_logs(spark, setup, tmp_path, reliability_record) -> None:
    """A Parquet text column of bytes with one value that is not UTF-8: the CLI run succeeds, that row is
    quarantined invalid_utf8, and its bytes reach neither stdout nor stderr (an ArrowException printed them)."""
    marker = b"SECRET-binary-document"
    ids, texts = (
        [b"ok-1", b"ok-2", b"bad"],
        [b"Aspirin eases pain.", "Caf\u00e9 study.".encode(), marker + b" \xe9\xff"],
    )
    path = tmp_path / "binary.parquet"
    pq.write_table(pa.table({"id": pa.array(ids, pa.binary()), "text": pa.array(texts, pa.binary())}), path)
    cfg = _with_input(_lake(setup, "binary"), path)
    done = _annotate_cli(cfg, "")
    logs = done.stdout + done.stderr
    assert done.returncode == 0, logs[-3000:]
    docs = sorted(r.doc_id for r in read_table(spark, cfg.lakehouse, "documents").collect())
    quarantined = [(r.source_id, r.reason) for r in read_table(spark, cfg.lakehouse, "quarantine").collect()]
    leaked = marker.decode() in logs
    reliability_record(
        "binary text column, one value not UTF-8 (CLI run; bytes kept out of the logs)",
        docs == ["ok-1", "ok-2"] and not leaked,
        injected=1,
        documents_lost=2 - len(docs),
        documents_duplicated=0,
    )
    assert docs == ["ok-1", "ok-2"] and quarantined == [("bad", "invalid_utf8")]
    assert not leaked


def test_silent_drops_are_counted_and_a_run_with_nothing_annotated_warns(
    spark, setup, tmp_path, capsys, monkeypatch, reliability_record
) -> None:
    """Identical duplicates and skipped files are counted in the summary and `runs`; annotating nothing warns,
    and `annotate --strict` exits 3 on a warning."""
    rows = sample_rows(2)
    lines = [*rows, rows[0], {"pmid": "blank", "title": " "}, {"pmid": "blank", "title": " "}]
    cfg = _with_input(_lake(setup, "counted"), _write_jsonl(tmp_path / "dups.jsonl", lines))
    summary = annotate(spark, cfg)
    assert (summary.documents, summary.quarantined, summary.skipped_duplicates, summary.skipped_files) == (2, 1, 2, 0)
    assert summary.warnings == []
    (run,) = read_table(spark, cfg.lakehouse, "runs").collect()
    assert (run.skipped_duplicates, run.skipped_files, run.warnings) == (2, 0, [])

    folder = tmp_path / "texts"
    folder.mkdir()
    for name, text in {"_draft.txt": "a draft", ".hidden.txt": "dot", "empty.txt": "", "notes.md": "notes"}.items():
        (folder / name).write_text(text, encoding="utf-8")
    lake = str(tmp_path / "lake-nothing")
    monkeypatch.setenv("KAZU_SPARK_SHUFFLE_PARTITIONS", "2")
    args = ["annotate", "--input", str(folder), "--lakehouse", lake, "--model", cfg.ner.model, "--strict", "--json"]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == STRICT_EXIT
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (run,) = read_table(spark, lake, "runs").collect()
    reliability_record(
        "silent drops: identical duplicates, hidden/empty/non-.txt files, nothing annotated (--strict exits 3)",
        run.skipped_files == 3 and len(run.warnings) == 2,
        injected=7,
        documents_lost=0,
        documents_duplicated=0,
    )
    assert (printed["documents"], printed["quarantined"], printed["skipped_files"]) == (0, 1, 3)
    assert (run.skipped_files, run.counts["skipped_files.hidden"], run.counts["skipped_files.not_txt"]) == (3, 2, 1)
    assert [w.split(":")[0] for w in run.warnings] == ["3 input entries not read", "nothing was annotated"]
    assert printed["warnings"] == run.warnings


# --- fuzzing: random bytes and structure-aware mutations of JSONL, Parquet and PubTator ---------------------------

_NO_EOL = bytes(b for b in range(256) if b not in b"\r\n")  # a line break would make two records of one
_WORDS = ("aspirin", "BRCA1", "TP53", "pain", "cancer", "cells", "caf\u00e9", "\u03b1-synuclein", "\u4e73\u817a\u764c",
          "\u05e9\u05dc\u05d5\u05dd", "\U0001f469\u200d\U0001f52c", "e\u0301", "<b>", "&amp;", "|t|", "\t")  # fmt: skip
_JSON_VALUES = (None, "", " ", 0, 7, 1.5, -3.0, True, False, {}, {"a": "b"}, [], ["x"], "\ud800", "x\x00y", "\u2028")
_BAD_UTF8 = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe9t\xe9", b"\xf4\x90\x80\x80")


def _noise(rng: random.Random, most: int) -> bytes:
    return bytes(rng.choice(_NO_EOL) for _ in range(rng.randint(1, most)))


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def _mutate(rng: random.Random, data: bytes) -> bytes:
    """One byte-level mutation: truncate, overwrite, insert bytes that are not UTF-8, wrap, or add a BOM."""
    at = rng.randrange(len(data) + 1)
    return rng.choice(
        [
            lambda: data[:at],
            lambda: data[:at] + _noise(rng, 4) + data[at + 1 :],
            lambda: data[:at] + rng.choice(_BAD_UTF8) + data[at:],
            lambda: b"[" + data + b"]",
            lambda: b"\xef\xbb\xbf" + data,
        ]
    )()


def fuzz_jsonl(rng: random.Random, n: int) -> list[bytes]:
    """``n`` JSONL records: corpus-like objects with fields dropped, retyped or filled with any code points,
    then byte mutations; lines of random bytes; exact duplicates. None is blank (a blank line is no record)."""
    lines: list[bytes] = []
    for i in range(n):
        if rng.random() < 0.08:
            line = _noise(rng, 80)
        elif rng.random() < 0.05 and lines:
            line = rng.choice(lines)
        else:
            record: dict = {"id": f"doc-{i}", "title": _words(rng, 3), "text": _words(rng, 12)}
            for _ in range(rng.randint(0, 3)):
                key, op = rng.choice(("id", "pmid", "title", "text", "abstract")), rng.randrange(4)
                if op == 0:
                    record.pop(key, None)
                elif op == 1:
                    record[key] = rng.choice(_JSON_VALUES)
                elif op == 2:
                    record[key] = _noise(rng, 40).decode("latin-1")
                else:
                    record[key] = record.get("text")  # an id that is a text, a text twice
            line = json.dumps(record, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
            line = _mutate(rng, line) if rng.random() < 0.3 else line
        lines.append(line if any(33 <= b < 127 for b in line) else line + b"#")
    return lines


def fuzz_pubtator(rng: random.Random, n: int, eols: tuple[bytes, ...]) -> list[bytes]:
    """``n`` PubTator blocks (each ending in one of ``eols``, a blank line after it): lines dropped, two PMIDs,
    an empty PMID, annotations only, noise or bytes that are not UTF-8 in a text, duplicate blocks."""
    blocks: list[bytes] = []
    for i in range(n):
        if rng.random() < 0.05 and blocks:
            blocks.append(rng.choice(blocks))
            continue
        pmid, eol = str(10_000 + i).encode(), rng.choice(eols)
        title, text = _words(rng, 4).encode(), _words(rng, 15).encode()
        lines = [pmid + b"|t|" + title, pmid + b"|a|" + text, pmid + b"\t0\t5\tBRCA1\tGene\t672"]
        op = rng.randrange(9)
        if op < 2:
            lines.pop(op)
        elif op == 2:
            lines[1] = str(20_000 + i).encode() + b"|a|" + text
        elif op == 3:
            lines = lines[2:]
        elif op == 4:
            lines[0] = b"|t|" + title
        elif op == 5:
            lines[1] = _mutate(rng, lines[1])
        elif op == 6:
            lines[0] += _noise(rng, 30)
        lines = [line if line.strip(b" \t") else line + b"#" for line in lines]  # a blank line would split the block
        blocks.append(eol.join(lines) + eol + (b" \t" if rng.random() < 0.1 else b"") + eol)
    return blocks


def fuzz_table(rng: random.Random, n: int) -> pa.Table:
    """``n`` rows of a table whose id and text columns are bytes: valid, not UTF-8, blank, null, repeated."""
    ids, pmids, titles, texts = [], [], [], []
    for i in range(n):
        ids.append(rng.choice([f"row-{i}".encode()] * 6 + [None, b"", b" ", _noise(rng, 8), f"row-{i // 2}".encode()]))
        pmids.append(rng.choice([str(i), None, ""]))
        titles.append(rng.choice([_words(rng, 3), None, "", " \u3000"]))
        text = _words(rng, 10).encode()
        texts.append(rng.choice([text, text, _mutate(rng, text), _noise(rng, 60), None, b"", b"\t"]))
    columns = {"id": (ids, pa.binary()), "pmid": (pmids, pa.string()), "title": (titles, pa.string()),
               "text": (texts, pa.binary())}  # fmt: skip
    return pa.table({name: pa.array(values, kind) for name, (values, kind) in columns.items()})


def _pure_outcomes(parse: Callable[[bytes, str], list[tuple]], records: list[bytes]) -> Counter:
    """Each record through the reader's parser and ``ingest_row``: a document or a known reason, never an error."""
    outcomes: Counter = Counter()
    for record in records:
        for parsed in parse(record, "fuzz"):
            result = ingest_row(dict(zip(PARSED_COLUMNS, parsed, strict=True)) | {"source": "fuzz"})
            outcomes["document" if isinstance(result, dict) else result.reason] += 1
    return outcomes


def _lakehouse_outcomes(spark: SparkSession, cfg: Config, summary) -> dict[str, int]:
    documents = read_table(spark, cfg.lakehouse, "documents")
    quarantine = read_table(spark, cfg.lakehouse, "quarantine")
    reasons = {r.reason for r in quarantine.select("reason").distinct().collect()}
    assert reasons <= set(REASONS), reasons  # every quarantine row says why, in a known word
    docs, distinct = documents.count(), documents.select("doc_id").distinct().count()
    return {"documents": docs, "duplicated": docs - distinct, "quarantined": quarantine.count(),
            "skipped": summary.skipped_duplicates + summary.skipped_files}  # fmt: skip


def test_fuzzed_inputs_end_annotated_or_quarantined_and_add_up(spark, setup, tmp_path, reliability_record) -> None:
    """Thousands of mutated records: each parses into a document or a quarantine reason (pure, in bulk), and
    three annotate runs (JSONL; Parquet with byte columns; PubTator with LF, CRLF, CR and mixed line endings)
    succeed with documents + quarantine rows + counted skips equal to the records written."""
    rng = random.Random(20)
    pure = _pure_outcomes(parse_jsonl_records, fuzz_jsonl(rng, 4000))
    pure += _pure_outcomes(parse_pubtator_record, fuzz_pubtator(rng, 1500, (b"\n", b"\r\n", b"\r")))
    assert sum(pure.values()) == 4000 + 1500 and set(pure) <= {"document", *REASONS}

    jsonl = fuzz_jsonl(rng, 600)
    (tmp_path / "fuzz.jsonl").write_bytes(b"\n".join(jsonl) + b"\n")
    pq.write_table(fuzz_table(rng, 400), tmp_path / "fuzz.parquet")
    pubtator = tmp_path / "pubtator"
    pubtator.mkdir()
    mixed, cr_only = fuzz_pubtator(rng, 300, (b"\n", b"\r\n")), fuzz_pubtator(rng, 100, (b"\r",))
    (pubtator / "mixed.pubtator").write_bytes(b"".join(mixed))
    (pubtator / "cr.pubtator").write_bytes(b"".join(cr_only))
    base = setup["cfg"].model_copy(
        update={"linking": setup["cfg"].linking.model_copy(update={"enabled": False})}
    )  # linking adds nothing here: the fuzz is in reading and ingestion
    runs = {"jsonl": (tmp_path / "fuzz.jsonl", len(jsonl)), "parquet": (tmp_path / "fuzz.parquet", 400),
            "pubtator": (pubtator, len(mixed) + len(cr_only))}  # fmt: skip
    lost = duplicated = 0
    for name, (path, written) in runs.items():
        cfg = _with_input(base.model_copy(update={"lakehouse": str(tmp_path / f"lake-{name}")}), path)
        summary = annotate(spark, cfg)
        got = _lakehouse_outcomes(spark, cfg, summary)
        assert summary.rows_read + summary.skipped_files >= 1 and got["documents"] > 0, (name, got)
        lost += written - got["documents"] - got["quarantined"] - got["skipped"]
        duplicated += got["duplicated"]
        assert got["documents"] + got["quarantined"] + got["skipped"] == written, (name, got, written)
    cases = sum(pure.values()) + sum(written for _, written in runs.values())
    reliability_record(
        f"fuzzed inputs: random bytes and structure-aware mutations of JSONL, Parquet, PubTator ({cases:,} records)",
        lost == 0 and duplicated == 0,
        injected=cases,
        documents_lost=lost,
        documents_duplicated=duplicated,
    )
    assert lost == 0 and duplicated == 0
