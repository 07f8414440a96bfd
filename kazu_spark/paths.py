"""Path resolution shared by config, model loading and ontology sources.

``pkg://kazu_spark/<rest>`` names a file shipped inside the installed package (the bundled model,
sample and ontology subsets), so a config works the same from a clone, a wheel or a cluster archive.
Anything else is returned as given: local paths, ``dbfs:/``, ``/Volumes/...``, ``s3a://`` and friends.

Example:
    >>> resolve_path("pkg://kazu_spark/resources/sample/abstracts.jsonl").endswith("sample/abstracts.jsonl")
    True
    >>> resolve_path("/dbfs/models/tinybern2")
    '/dbfs/models/tinybern2'
    >>> resolve_path("data/x.obo", base="/repo")
    '/repo/data/x.obo'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PKG_PREFIX = "pkg://"


def resolve_path(path: str, base: str | Path | None = None) -> str:
    """Turn ``pkg://package/relative/path`` into a filesystem path, join a relative path onto ``base``
    when one is given, and pass anything else through (``base=None`` leaves it relative to the cwd)."""
    if path.startswith(PKG_PREFIX):
        package, _, relative = path[len(PKG_PREFIX) :].partition("/")
        if not package or not relative:
            raise ValueError(f"{path!r}: expected pkg://<package>/<relative path>")
        return str(resources.files(package).joinpath(relative))
    if base is not None and "://" not in path and not Path(path).is_absolute():
        return str(Path(base) / path)
    return path
