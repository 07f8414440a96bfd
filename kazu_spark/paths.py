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
    >>> validate_path("s3a://bucket/lake"), validate_path("/Volumes/main/raw/docs")
    ('s3a://bucket/lake', '/Volumes/main/raw/docs')
    >>> validate_path("http://example.org/docs.jsonl")
    Traceback (most recent call last):
    ...
    ValueError: unsupported URI scheme 'http' in 'http://example.org/docs.jsonl'; use a local path or one of ...
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

PKG_PREFIX = "pkg://"

#: URI schemes a configured path may use; anything else (http:, ftp:, a typo) is refused at load time
SCHEMES: tuple[str, ...] = ("file", "pkg", "dbfs", "s3", "s3a", "abfs", "abfss", "gs", "hdfs")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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


class CredentialsInPathError(ValueError):
    """A configured URI holds ``user:secret@``; its message never repeats the path."""


def validate_path(path: str) -> str:
    """Return ``path`` if it is a usable location, else raise ValueError saying why.

    Refused: an empty or blank path, control characters (a NUL byte truncates paths in C libraries, a
    newline forges log lines), a URI scheme outside ``SCHEMES``, and credentials in a URI
    (``s3a://KEY:SECRET@bucket``: they belong in the cluster's credential settings, not in a path that
    is logged and stored in ``runs``). A one-letter scheme is a Windows drive, i.e. a local path.
    """
    if not path.strip():
        raise ValueError("path is empty")
    if _CONTROL.search(path):
        raise ValueError(f"path {path!r} contains a control character (NUL, newline, ...)")
    scheme = _SCHEME.match(path)
    if scheme and len(scheme[1]) > 1:
        if scheme[1].lower() not in SCHEMES:
            raise ValueError(
                f"unsupported URI scheme {scheme[1]!r} in {path!r}; use a local path or one of {', '.join(SCHEMES)}"
            )
        authority = path[scheme.end() :].removeprefix("//").split("/", 1)[0]
        if ":" in authority.rpartition("@")[0]:  # user:secret@host (abfss://container@account is fine)
            raise CredentialsInPathError(
                f"path {scheme[1]}://…@… carries credentials: configure them in Spark, not in the path"
            )
    return path
