"""Shipping the model to Python workers: a broadcast's files are unpacked, and its kept copy let go."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pyspark import Broadcast

from kazu_spark.ner.spark import _unpack_broadcast, model_fingerprint

FILES = {"config.json": b'{"model_type": "bert"}', "model.safetensors": b"\x00" * 1024}


def worker_broadcast(tmp_path: Path) -> Broadcast[dict[str, bytes]]:
    """A broadcast as a Python worker sees it: the JVM wrote the pickled value to a file, read lazily."""
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "broadcast"
    path.write_bytes(pickle.dumps(FILES))
    return Broadcast(path=str(path))


def test_unpacked_files_are_the_broadcast_ones_and_the_worker_keeps_no_copy(tmp_path: Path) -> None:
    shipped = worker_broadcast(tmp_path)
    folder = _unpack_broadcast(model_fingerprint(FILES), shipped, tmp_path / "models")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == FILES
    assert "_value" not in vars(shipped)  # the bytes are on disk; the worker holds no second copy
    assert shipped.value == FILES  # a rebuild (after the memory guard dropped the tagger) reads it again


def test_workers_of_an_executor_share_one_copy_and_never_load_the_broadcast_again(tmp_path: Path) -> None:
    root = tmp_path / "models"
    first = _unpack_broadcast(model_fingerprint(FILES), worker_broadcast(tmp_path), root)
    later = worker_broadcast(tmp_path)  # another worker, or a restarted one, or a retried task
    assert _unpack_broadcast(model_fingerprint(FILES), later, root) == first
    assert "_value" not in vars(later)  # it found the copy: the 28 MB value was never read
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [model_fingerprint(FILES)]  # nothing leaked


def test_a_partial_or_altered_copy_is_written_again(tmp_path: Path) -> None:
    root = tmp_path / "models"
    folder = _unpack_broadcast(model_fingerprint(FILES), worker_broadcast(tmp_path), root)
    (folder / "model.safetensors").write_bytes(b"\x01")  # a worker killed mid-write, or a tampered file
    (folder / "stray.bin").write_bytes(b"x")
    again = _unpack_broadcast(model_fingerprint(FILES), worker_broadcast(tmp_path), root)
    assert {p.name: p.read_bytes() for p in again.iterdir()} == FILES


def test_concurrent_workers_unpack_once_and_all_see_whole_files(tmp_path: Path) -> None:
    root, fingerprint = tmp_path / "models", model_fingerprint(FILES)
    broadcasts = [worker_broadcast(tmp_path / str(n)) for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        folders = set(pool.map(lambda shipped: _unpack_broadcast(fingerprint, shipped, root), broadcasts))
    assert len(folders) == 1 and {p.name: p.read_bytes() for p in folders.pop().iterdir()} == FILES
