"""File-system calls the driver makes (list an input folder, move a written CSV part), in both Spark modes.

Classic Spark goes through Hadoop's ``FileSystem`` over the JVM gateway, so every scheme the cluster is
configured for (``s3a://``, ``abfss://``, ``hdfs://``, ``dbfs:/``) works with the cluster's credentials.
Spark Connect has no gateway: there the calls go through `fsspec <https://filesystem-spec.readthedocs.io>`_
from the client (local paths and ``/Volumes/...`` as they are; ``s3://`` and the like need fsspec's
package for the scheme, e.g. ``s3fs``).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("x")
    >>> [(f.name, f.is_dir, f.size) for f in FsspecFiles().list(str(folder))]
    [('a.txt', False, 1)]
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any, Protocol

from kazu_spark.runtime.connect import JAVA_ERRORS, first_line, is_connect


class FileSystemError(OSError):
    """A driver-side file-system call failed (no such scheme, no access); the message says which path."""


@dataclass(frozen=True)
class FileInfo:
    """A file or folder: its last path component, its full path (as Spark can read it), kind and size."""

    name: str
    path: str
    is_dir: bool
    size: int


class DriverFiles(Protocol):
    """The few file-system calls the job makes on the driver."""

    def glob(self, pattern: str) -> list[FileInfo]:
        """What ``pattern`` (a path, globs allowed) matches; empty when nothing exists."""
        ...

    def list(self, folder: str) -> list[FileInfo]:
        """The folder's children."""
        ...

    def read(self, path: str) -> bytes:
        """The bytes of a (small) file."""
        ...

    def move(self, source: str, target: str) -> None:
        """Move the file ``source`` to ``target``, replacing it."""
        ...

    def remove(self, path: str) -> None:
        """Delete a file or a folder with what it holds; nothing if it does not exist."""
        ...


class HadoopFiles:
    """:class:`DriverFiles` through Hadoop's FileSystem (classic Spark: the cluster's schemes and credentials)."""

    def __init__(self, spark: Any) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _fs(self, path: str) -> tuple[Any, Any]:
        hadoop_path = self._jvm.org.apache.hadoop.fs.Path(path)
        try:
            return hadoop_path.getFileSystem(self._conf), hadoop_path
        except JAVA_ERRORS as exc:  # e.g. an unknown file-system scheme
            raise FileSystemError(first_line(exc)) from exc

    @staticmethod
    def _info(status: Any) -> FileInfo:
        where = status.getPath()
        return FileInfo(where.getName(), where.toString(), status.isDirectory(), status.getLen())

    def _call(self, path: str, call: str, *args: Any) -> Any:
        fs, hadoop_path = self._fs(path)
        try:
            return getattr(fs, call)(hadoop_path, *args)
        except JAVA_ERRORS as exc:  # e.g. AccessDeniedException
            raise FileSystemError(first_line(exc)) from exc

    def glob(self, pattern: str) -> list[FileInfo]:
        return [self._info(s) for s in self._call(pattern, "globStatus") or []]

    def list(self, folder: str) -> list[FileInfo]:
        return [self._info(s) for s in self._call(folder, "listStatus")]

    def read(self, path: str) -> bytes:
        stream = self._call(path, "open")
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def move(self, source: str, target: str) -> None:
        self._call(target, "delete", False)
        self._call(source, "rename", self._fs(target)[1])
        # a local file system moves the part's .crc file along: drop it
        self.remove(posixpath.join(posixpath.dirname(target), f".{posixpath.basename(target)}.crc"))

    def remove(self, path: str) -> None:
        self._call(path, "delete", True)


class FsspecFiles:
    """:class:`DriverFiles` through fsspec (Spark Connect: the client's own access to the storage)."""

    @staticmethod
    def _fs(path: str) -> tuple[Any, str]:
        from fsspec.core import url_to_fs

        try:
            return url_to_fs(path)
        except (ImportError, ValueError) as exc:  # no fsspec implementation for the scheme
            raise FileSystemError(f"{path}: {exc}") from exc

    @staticmethod
    def _info(fs: Any, entry: dict[str, Any]) -> FileInfo:
        from fsspec.implementations.local import LocalFileSystem

        name = entry["name"].rstrip("/")
        path = name if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(name)
        return FileInfo(posixpath.basename(name), path, entry["type"] == "directory", int(entry.get("size") or 0))

    def glob(self, pattern: str) -> list[FileInfo]:
        fs, stripped = self._fs(pattern)
        try:  # a path without wildcards matches itself, if it exists
            return [self._info(fs, entry) for entry in fs.glob(stripped, detail=True).values()]
        except OSError as exc:
            raise FileSystemError(f"{pattern}: {exc}") from exc

    def list(self, folder: str) -> list[FileInfo]:
        fs, stripped = self._fs(folder)
        try:
            return [self._info(fs, entry) for entry in fs.ls(stripped, detail=True)]
        except OSError as exc:
            raise FileSystemError(f"{folder}: {exc}") from exc

    def read(self, path: str) -> bytes:
        fs, stripped = self._fs(path)
        try:
            return fs.cat_file(stripped)
        except OSError as exc:
            raise FileSystemError(f"{path}: {exc}") from exc

    def move(self, source: str, target: str) -> None:
        fs, stripped = self._fs(source)
        fs.mv(stripped, self._fs(target)[1])

    def remove(self, path: str) -> None:
        fs, stripped = self._fs(path)
        if fs.exists(stripped):
            fs.rm(stripped, recursive=True)


def driver_files(spark: Any) -> DriverFiles:
    """Hadoop's file systems in classic Spark, fsspec through Spark Connect (module doc)."""
    return FsspecFiles() if is_connect(spark) else HadoopFiles(spark)
