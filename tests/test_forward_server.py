"""``ner.forward_server``: the NER tasks of a machine send their forwards to one process per device.

What a user relies on: the same entities as tasks that hold the model themselves, one server for all the tasks of a
machine, errors and out-of-memory reaching the task that sent the batch, and a server that stops when idle and
starts again when needed. On the CPU here; on a GPU the same code runs with ``device`` cuda (bench/ner_gpu.py).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from multiprocessing.connection import Listener
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import sample_rows
from pyspark.sql import SparkSession

import kazu_spark
from kazu_spark.config import load_config
from kazu_spark.documents.spark import to_documents
from kazu_spark.ner.batching import pad_ids, plan_batches
from kazu_spark.ner.forward_server import ForwardClient, Forwards, serve
from kazu_spark.ner.model import load_token_classifier
from kazu_spark.ner.spark import tag_documents
from kazu_spark.ner.tagger import Tagger
from kazu_spark.ner.windows import make_windows_batch
from kazu_spark.pipeline.texts import tag_texts
from kazu_spark.schemas import RAW_DOCUMENTS

MODEL = Path(kazu_spark.__file__).parent / "resources" / "model"
#: fp32: the spans do not depend on how windows are batched
FP32 = load_config(overrides={"ner.precision": "fp32"})


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [row["abstract"] for row in sample_rows(12)]


def spans(tagger: Tagger, texts: list[str]) -> list[list[tuple]]:
    return [[(s.start, s.end, s.entity_class, round(s.confidence, 4)) for s in found] for found in tagger.tag(texts)]


def assert_same(ours: list[list[tuple]], theirs: list[list[tuple]]) -> None:
    """The same spans and classes, and confidences within 1e-4: the server batches windows with other windows
    than a local forward does, which can move the last bits (as another ``ner.max_batch_tokens`` does)."""
    assert [[span[:3] for span in found] for found in ours] == [[span[:3] for span in found] for found in theirs]
    assert all(abs(a[3] - b[3]) <= 1e-4 for x, y in zip(ours, theirs, strict=True) for a, b in zip(x, y, strict=True))


def served_tagger(idle_s: float = 5.0, **kwargs: object) -> Tagger:
    """A tagger of the bundled model whose forwards the machine's forward server runs."""
    tagger = Tagger.from_dir(MODEL, device="cpu", precision="fp32", forward_server=True, **kwargs)
    tagger.server.idle_s = idle_s
    return tagger


def starts(client: ForwardClient) -> int:
    """How many times a server was started at the client's address (each writes one line to the log)."""
    log = Path(f"{client.address}.log")
    return log.read_text().count("serving ") if log.exists() else 0


def test_served_forwards_give_the_spans_and_windows_of_a_local_model(texts: list[str]) -> None:
    local = Tagger.from_dir(MODEL, device="cpu", precision="fp32", max_batch_tokens=2048)
    served = served_tagger(max_batch_tokens=2048)
    assert served.model is None and served.name == local.name
    assert_same(spans(served, texts), spans(local, texts))
    docs = make_windows_batch(texts[:3], local.tokenizer, window=64, stride=16)
    for ours, theirs in zip(served.window_probs(docs), local.window_probs(docs), strict=True):
        assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(ours, theirs, strict=True))
    stats = served.server.stats()
    assert stats["windows"] > len(texts) and stats["padded"] >= stats["tokens"] > 0
    served.server.close()


def tag_in_worker(index: int, texts: list[str], out: mp.Queue) -> None:
    out.put((index, spans(served_tagger(), texts)))


def test_the_tasks_of_a_machine_share_one_server(texts: list[str]) -> None:
    """Three processes starting together, as Spark tasks do, start one server and each get their own spans."""
    client = served_tagger().server
    client.close()
    deadline = time.monotonic() + 30
    while client.address.exists() and time.monotonic() < deadline:  # no server left by an earlier test
        time.sleep(0.2)
    before = starts(client)
    context = mp.get_context("spawn")
    out = context.Queue()
    shares = [texts[i::3] for i in range(3)]
    workers = [context.Process(target=tag_in_worker, args=(i, share, out)) for i, share in enumerate(shares)]
    for worker in workers:
        worker.start()
    results = dict(out.get(timeout=300) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    local = Tagger.from_dir(MODEL, device="cpu", precision="fp32")
    for index, share in enumerate(shares):
        assert_same(results[index], spans(local, share))
    assert starts(client) == before + 1


def test_an_error_reaches_the_task_and_the_server_goes_on() -> None:
    client = served_tagger().server
    ids, mask = np.array([[2, 10**7, 3]]), np.ones((1, 3), dtype=np.int64)  # an id past the vocabulary
    with pytest.raises(RuntimeError, match="forward server at .*IndexError"):
        client(ids, mask)
    client._connect().send("not a batch")  # what no task sends: an error reply, not a dead server
    assert client._connection.recv()[0] == "error"
    assert client(np.array([[2, 1037, 3]]), mask).shape == (1, 3, 13)
    client.close()


def test_a_server_that_does_not_answer_times_out(tmp_path: Path) -> None:
    """A server that accepts the task but never replies: the task fails with where to look, it does not hang."""
    client = ForwardClient(tmp_path, name="silent-test", device="cpu", precision="fp32", reply_timeout_s=0.5)
    key = os.urandom(32)
    Path(f"{client.address}.key").write_bytes(key)
    client.address.unlink(missing_ok=True)
    listener = Listener(str(client.address), family="AF_UNIX", authkey=key)
    accepted: list = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    with pytest.raises(TimeoutError, match="sent no reply in 0.5 s"):
        client(np.array([[2, 3]]), np.ones((1, 2), dtype=np.int64))
    listener.close()


def test_out_of_memory_on_the_server_halves_its_batches(texts: list[str], tmp_path: Path) -> None:
    """The server runs out of memory above 2 windows: it halves its batches, and the task loses nothing."""
    loaded = load_token_classifier(MODEL)
    model, seen = loaded.model, []
    forward = type(model).forward

    def oom_above_two(self: torch.nn.Module, input_ids: torch.Tensor, **kwargs: torch.Tensor) -> object:
        seen.append(len(input_ids))
        if len(input_ids) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")
        return forward(self, input_ids=input_ids, **kwargs)

    client = ForwardClient(tmp_path, name="oom-test", device="cpu", precision="fp32")
    key = os.urandom(32)
    Path(f"{client.address}.key").write_bytes(key)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(model), "forward", oom_above_two)
        server = threading.Thread(
            target=serve, args=(model, client.address, key), kwargs={"max_tokens": 10**5, "idle_s": 0.5}
        )
        server.start()
        while not client.address.exists():
            time.sleep(0.01)
        tagger = Tagger(None, loaded.tokenizer, loaded.labels, name="served", server=client, max_batch_tokens=10**5)
        found = spans(tagger, texts[:4])
        client.close()
        server.join(timeout=30)
    assert_same(found, spans(Tagger.from_dir(MODEL, device="cpu", precision="fp32"), texts[:4]))
    assert max(seen) > 2 and any(n <= 2 for n in seen)
    assert not server.is_alive() and not client.address.exists()


def padded(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    batch = pad_ids(rows, pad_id=0)
    return batch["input_ids"].numpy(), batch["attention_mask"].numpy()


def test_the_requests_waiting_are_run_together_sorted_by_length() -> None:
    """Two tasks' requests, each a long and a short window: merged, the long windows share a batch and the short
    ones another, so the server runs 2 forwards of 224 padded tokens where the tasks' own forwards would run 2 of
    380 (``plan_batches`` of each request); each task still gets its own windows' logits, in its own padded shape."""
    model = load_token_classifier(MODEL).model
    first = padded([[2, *range(1000, 1098), 3], [2, *range(2000, 2008), 3]])  # 100 and 10 tokens
    second = padded([[2, *range(3000, 3010), 3], [2, *range(4000, 4088), 3]])  # 12 and 90
    merged = Forwards(model, max_tokens=200)
    together = merged.answer([first, second])
    assert merged.stats.padded == 100 * 2 + 12 * 2 and merged.stats.forwards == 2
    assert [plan_batches(mask.sum(1).tolist(), 200) for _, mask in (first, second)] == [[[1, 0]], [[0, 1]]]
    alone = Forwards(model, max_tokens=200)
    for request, reply in zip([first, second], together, strict=True):
        assert reply[0] == "ok" and reply[1].shape == (*request[0].shape, 13)
        expected, real = alone.answer([request])[0][1], request[1].astype(bool)
        assert np.allclose(reply[1][real], expected[real], atol=1e-5)  # the rows of the windows' own tokens


def test_a_failing_request_does_not_fail_the_others() -> None:
    model = load_token_classifier(MODEL).model
    good, bad = padded([[2, 1037, 3]]), padded([[2, 10**7, 3]])
    replies = Forwards(model, max_tokens=4096).answer([good, bad, "not a batch", (good[0], good[1][:, :2])])
    assert replies[0][0] == "ok" and replies[0][1].shape == (1, 3, 13)
    assert replies[1][0] == "error" and "IndexError" in replies[1][1]
    assert replies[2] == ("error", "TypeError: a request is (input_ids, attention_mask), two numpy arrays")
    assert replies[3][0] == "error" and "of one shape" in replies[3][1]


def test_an_idle_server_stops_and_the_next_batch_starts_another() -> None:
    tagger = served_tagger(idle_s=0.5)
    first = tagger.tag(["BRCA1 mutations cause breast cancer."])
    before = starts(tagger.server)
    tagger.server.close()
    deadline = time.monotonic() + 30
    while tagger.server.address.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tagger.server.address.exists()
    assert tagger.tag(["BRCA1 mutations cause breast cancer."]) == first
    assert starts(tagger.server) == before + 1
    tagger.server.close()


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    client = ForwardClient(tmp_path, name="no-model", device="cpu", precision="fp32")
    with pytest.raises(RuntimeError, match=r"(?s)exited with 1.*not a model folder \(no config\.json\)"):
        client(np.array([[2, 3]]), np.ones((1, 2), dtype=np.int64))


def test_a_tagger_needs_a_model_or_a_server() -> None:
    loaded = load_token_classifier(MODEL)
    with pytest.raises(ValueError, match="exactly one"):
        Tagger(None, loaded.tokenizer, loaded.labels, name="neither")


def test_the_setting_reaches_tag_texts_and_the_spark_stage(spark: SparkSession, texts: list[str]) -> None:
    """``ner.forward_server: true`` in the configuration: the Spark stage's Python workers start and share the
    server, and the entities are those of tasks that hold the model."""
    served = FP32.model_copy(update={"ner": FP32.ner.model_copy(update={"forward_server": True})})
    rows = sample_rows(12)
    raw = spark.createDataFrame([(r["pmid"], r["title"], r["abstract"], "sample", None) for r in rows], RAW_DOCUMENTS)
    documents, _ = to_documents(raw, "run-1")
    key = ["entity_id", "doc_id", "section", "start", "end", "mention", "entity_class"]
    client = served_tagger().server  # the workers' server: the same weights, device and precision
    client.close()
    deadline = time.monotonic() + 30
    while client.address.exists() and time.monotonic() < deadline:  # no server left by an earlier test
        time.sleep(0.2)
    before = starts(client)
    staged = tag_documents(spark, documents, served.ner).toPandas()
    assert starts(client) == before + 1
    assert "kazu-spark-models" in Path(f"{client.address}.log").read_text().splitlines()[-1]  # the shipped copy
    local = tag_documents(spark, documents, FP32.ner).toPandas()
    assert len(staged) > 50
    assert sorted(map(tuple, staged[key].values.tolist())) == sorted(map(tuple, local[key].values.tolist()))
    pd.testing.assert_frame_equal(tag_texts(texts[:3], served), tag_texts(texts[:3], FP32))
