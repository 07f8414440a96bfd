"""The ``ontology_terms`` table on the driver, for the small-batch linker: collected once per table version.

:func:`~kazu_spark.linking.batch.link_with_table` links a small batch against the whole table held in pandas:
one Spark job collects it, where filtering it for the batch took five, and the fuzzy indexes are built from
it without more. Given the table's commit key (:func:`kazu_spark.lakehouse.delta.table_commit`: its location,
version and commit file), the collected frame is also kept as Parquet in the user's cache
(``~/.cache/kazu-spark/terms/<key>.parquet``, :func:`~kazu_spark.paths.cache_home`), so the next run on the
same version of the table reads it back without Spark. A new version (``kazu-spark ontologies`` merged other
terms) has a new key; copies beyond the :data:`KEEP` most recently used are removed. The driver holds the
whole table: about 0.6 KB per term row in pandas (the 30,501 bundled terms take 18 MB; a million synonyms
about 600 MB). ``linking.batch_entities: 0`` links every batch in Spark instead.

Example (needs a session; ``terms`` read from a lakehouse's ontology_terms at the commit ``commit``):
    >>> table = driver_terms(terms, commit.key)  # doctest: +SKIP
    >>> list(table.columns) == TABLE_COLUMNS  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from kazu_spark.linking.batch import TERM_COLUMNS
from kazu_spark.paths import cache_home

log = logging.getLogger(__name__)

#: cached tables kept (the most recently used); older ones are removed when a new one is stored
KEEP = 4
#: the columns of the table :func:`driver_terms` returns
TABLE_COLUMNS = [*TERM_COLUMNS, "source_version", "source_checksum"]
#: the metadata keys :func:`flat_terms` takes out as columns
METADATA_COLUMNS = ("rank", "parents", "tax_id", "type_of_gene", "xrefs", "orthologues")


def flat_terms(terms: DataFrame) -> DataFrame:
    """``terms`` (ONTOLOGY_TERMS) as :data:`TABLE_COLUMNS`: :data:`METADATA_COLUMNS` out of ``metadata``."""
    metadata = F.col("metadata")
    taken = {name: metadata.getItem(name).alias(name) for name in METADATA_COLUMNS}
    return terms.select(*(taken.get(name, F.col(name)) for name in TABLE_COLUMNS))


def driver_terms(terms: DataFrame, key: str | None = None, folder: Path | None = None) -> pd.DataFrame:
    """``terms`` collected as a pandas frame of :data:`TABLE_COLUMNS`; with the table's commit ``key``, read from
    (or stored into) the cache ``folder`` (default ``terms`` in :func:`~kazu_spark.paths.cache_home`). A cached
    copy that cannot be read, or of other columns (written before a metadata key was taken out), is logged
    and collected again."""
    path = (folder or cache_home() / "terms") / f"{key}.parquet" if key else None
    if path is not None and path.exists():
        try:
            table = pd.read_parquet(path)
            if list(table.columns) == TABLE_COLUMNS:
                path.touch()  # recently used: kept by the pruning
                return table
            log.warning("cached ontology terms %s have other columns: collecting them again", path)
        except (OSError, pa.ArrowException) as exc:
            log.warning("cached ontology terms %s unreadable (%s): collecting them again", path, exc)
    table = flat_terms(terms).toPandas()
    table.attrs.clear()  # Spark Connect leaves its query metrics there, which Parquet's metadata cannot hold
    if path is not None:
        _store(table, path)
    return table


def _store(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` to ``path`` atomically (a concurrent run reads the old file or the new, never half of
    one), then remove all but the :data:`KEEP` most recently used copies. Best effort: a cache that cannot
    be written is logged and the run goes on."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            table.to_parquet(tmp.name, index=False)
        os.replace(tmp.name, path)
        copies = sorted(path.parent.glob("*.parquet"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in copies[KEEP:]:
            old.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError, pa.ArrowException) as exc:
        log.warning("could not cache the ontology terms in %s: %s", path.parent, exc)
