"""Shipping the model to Python workers: a broadcast's files are unpacked, and its kept copy let go."""

from __future__ import annotations

import pickle
from pathlib import Path

from pyspark import Broadcast

from kazu_spark.ner.spark import _unpack_broadcast

FILES = {"config.json": b'{"model_type": "bert"}', "model.safetensors": b"\x00" * 1024}


def worker_broadcast(tmp_path: Path) -> Broadcast[dict[str, bytes]]:
    """A broadcast as a Python worker sees it: the JVM wrote the pickled value to a file, read lazily."""
    path = tmp_path / "broadcast"
    path.write_bytes(pickle.dumps(FILES))
    return Broadcast(path=str(path))


def test_unpacked_files_are_the_broadcast_ones_and_the_worker_keeps_no_copy(tmp_path: Path) -> None:
    shipped = worker_broadcast(tmp_path)
    folder = _unpack_broadcast("abc123", shipped)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == FILES
    assert "_value" not in vars(shipped)  # the bytes are on disk; the worker holds no second copy
    assert shipped.value == FILES  # a rebuild (after the memory guard dropped the tagger) reads it again


def test_each_unpack_gets_its_own_folder(tmp_path: Path) -> None:
    shipped = worker_broadcast(tmp_path)
    first, second = _unpack_broadcast("abc123", shipped), _unpack_broadcast("abc123", shipped)
    assert first != second and sorted(p.name for p in second.iterdir()) == sorted(FILES)
