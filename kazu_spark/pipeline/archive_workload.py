"""The run whose classes go into the driver JVM's class archive: a small annotate, then a small increment.

``kazu-spark setup`` runs this module in a child process (:func:`kazu_spark.runtime.class_archive.build_class_archive`):
it starts Spark with ``-XX:ArchiveClassesAtExit=<path>``, annotates three bundled abstracts into a fresh
lakehouse (tables created, ontology terms built from the bundled CL subset, NER, linking, MERGEs), adds two
more (the increment's reads, checks and appends), then ends its JVM, which writes the archive as it exits.
Classes a later run needs that this one did not load are read from their jars as usual.

Example:
    $ python -m kazu_spark.pipeline.archive_workload /tmp/archive.partial  # doctest: +SKIP
"""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path

from kazu_spark.config import load_config
from kazu_spark.paths import resolve_path
from kazu_spark.pipeline.annotate import annotate
from kazu_spark.runtime.class_archive import close_jvm
from kazu_spark.runtime.session import JAVA_OPTIONS, build_session

SAMPLE = "pkg://kazu_spark/resources/sample/abstracts.jsonl"


def run_workload(archive: Path) -> int:
    """Annotate 3 then 2 more bundled abstracts in a JVM that writes its classes to ``archive`` as it exits;
    returns that JVM's exit code."""
    lines = Path(resolve_path(SAMPLE)).read_text(encoding="utf-8").splitlines(keepends=True)
    cells = next(o for o in load_config().linking.ontologies if o.name == "CL")
    spark = build_session(
        "kazu-spark-class-archive",
        "local[2]",
        extra_conf={JAVA_OPTIONS: f"-XX:ArchiveClassesAtExit={shlex.quote(str(archive))}", "spark.ui.enabled": "false"},
    )
    with tempfile.TemporaryDirectory(prefix="kazu-spark-archive-") as work:
        for name, docs in (("first", lines[:3]), ("increment", lines[3:5])):
            path = Path(work, f"{name}.jsonl")
            path.write_text("".join(docs), encoding="utf-8")
            overrides = {
                "input.path": str(path),
                "lakehouse": str(Path(work, "lakehouse")),
                "linking.ontologies": [cells.model_dump()],
                "progress": "off",
            }
            annotate(spark, load_config(overrides=overrides))
        return close_jvm(spark)


if __name__ == "__main__":
    sys.exit(run_workload(Path(sys.argv[1])))
