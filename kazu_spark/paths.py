"""Path resolution shared by config, model loading and ontology sources.

``pkg://kazu_spark/<rest>`` names a file shipped inside the installed package (the bundled model,
sample and ontology subsets), so a config works the same from a clone, a wheel or a cluster archive; when
the package is imported from a zip (``--py-files``), the resource is first extracted to a temporary folder.
Anything else is returned as given: absolute local paths, Databricks ``dbfs:/...`` and ``/Volumes/...``,
``s3a://``, ``abfss://`` and friends; a relative local path is joined onto ``base`` when one is given.

Example:
    >>> resolve_path("pkg://kazu_spark/resources/sample/abstracts.jsonl").endswith("sample/abstracts.jsonl")
    True
    >>> resolve_path("/dbfs/models/tinybern2")
    '/dbfs/models/tinybern2'
    >>> resolve_path("data/x.obo", base="/repo")
    '/repo/data/x.obo'
    >>> resolve_path("dbfs:/FileStore/kazu/in.jsonl", base="/repo")
    'dbfs:/FileStore/kazu/in.jsonl'

    >>> validate_path("s3a://bucket/lake"), validate_path("/Volumes/main/raw/docs")
    ('s3a://bucket/lake', '/Volumes/main/raw/docs')
    >>> validate_path("http://example.org/docs.jsonl")
    Traceback (most recent call last):
    ...
    ValueError: unsupported URI scheme 'http' in 'http://example.org/docs.jsonl'; use a local path or one of ...
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from kazu_spark.errors import CredentialsInPathError

PKG_PREFIX = "pkg://"
# a URI scheme (RFC 3986: letter, then letters, digits, + - .); one of a single letter is a Windows drive
# ("C:"), not a scheme; "dbfs:/x" has no "//" but is a URI all the same
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def is_uri(path: str) -> bool:
    """Whether ``path`` starts with a URI scheme (``dbfs:``, ``s3a:``, ``file:``, ...).

    Example:
        >>> [is_uri(p) for p in ("dbfs:/x", "s3a://b/k", "/Volumes/main/x", "lake", "C:/x")]
        [True, True, False, False, False]
    """
    scheme = _SCHEME.match(path)
    return scheme is not None and len(scheme[1]) > 1


def cache_home(environ: Mapping[str, str] = os.environ) -> Path:
    """kazu-spark's folder in the user's cache, ``$XDG_CACHE_HOME`` or ``~/.cache`` (never the working directory).

    Example:
        >>> cache_home({"XDG_CACHE_HOME": "/cache"})
        PosixPath('/cache/kazu-spark')
    """
    cache = environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser().resolve() / "kazu-spark"


@functools.cache
def _cache_root() -> Path:
    """This process's folder for extracted resources, removed when the process exits."""
    root = tempfile.mkdtemp(prefix="kazu-spark-resources-")
    atexit.register(shutil.rmtree, root, True)
    return Path(root)


def _extracted(resource: Traversable, relative: str) -> Path:
    """Copy a package resource that is not a real file (the package imported from a zip, e.g. spark-submit
    ``--py-files kazu_spark.zip``) into a per-process cache folder, once, and return the copy's path."""
    target = _cache_root() / relative
    if not target.exists():
        if resource.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            for child in resource.iterdir():
                _extracted(child, f"{relative}/{child.name}")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(resource.read_bytes())
    return target


#: URI schemes a configured path may use; anything else (http:, ftp:, a typo) is refused at load time
SCHEMES: tuple[str, ...] = ("file", "pkg", "dbfs", "s3", "s3a", "abfs", "abfss", "gs", "hdfs")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def resolve_path(path: str, base: str | Path | None = None) -> str:
    """Turn ``pkg://package/relative/path`` into a filesystem path, join a relative path onto ``base``
    when one is given, and pass anything else through (``base=None`` leaves it relative to the cwd)."""
    if path.startswith(PKG_PREFIX):
        package, _, relative = path[len(PKG_PREFIX) :].partition("/")
        if not package or not relative:
            raise ValueError(f"{path!r}: expected pkg://<package>/<relative path>")
        resource = resources.files(package).joinpath(relative)
        return str(resource) if isinstance(resource, Path) else str(_extracted(resource, f"{package}/{relative}"))
    if base is not None and not is_uri(path) and not Path(path).is_absolute():
        return str(Path(base) / path)
    return path


def _local_path(path: str) -> Path | None:
    """``path`` (pkg:// resolved, a ``file:`` URI unwrapped) as an absolute local path; None for another URI."""
    path = resolve_path(path)
    if path[:5].lower() == "file:":
        path = path[5:].removeprefix("//")
    return None if is_uri(path) else Path(path).resolve()


def local_size(path: str) -> int | None:
    """Bytes of the local file ``path``, or of the files under the local folder ``path``; None for a URI, a
    catalog table's name, or a path that does not exist.

    Example:
        >>> local_size("pkg://kazu_spark/resources/sample/abstracts.jsonl") > 100_000, local_size("s3a://b/in")
        (True, None)
    """
    local = _local_path(path)
    if local is None or not local.exists():
        return None
    if local.is_file():
        return local.stat().st_size
    return sum(f.stat().st_size for f in local.rglob("*") if f.is_file())


def is_within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies under it: local paths compared resolved (``..``, symlinks, the
    working directory), URIs compared as written; a local path and a URI never overlap.

    Example:
        >>> is_within("/data/in/lake", "/data/in"), is_within("/data/in/../lake", "/data/in")
        (True, False)
        >>> is_within("/data/input2", "/data/in"), is_within("file:///data/in/lake", "/data/in/")
        (False, True)
        >>> is_within("s3a://bucket/in/lake", "s3a://bucket/in/"), is_within("s3a://bucket/in", "/bucket/in")
        (True, False)
    """
    local, local_folder = _local_path(path), _local_path(folder)
    if local is not None and local_folder is not None:
        return local.is_relative_to(local_folder)
    if local is None and local_folder is None:
        return f"{path.rstrip('/')}/".startswith(f"{folder.rstrip('/')}/")
    return False


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
    if scheme and is_uri(path):
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
