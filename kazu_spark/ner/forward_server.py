"""One forward process per device for the NER tasks of a machine (``ner.forward_server``).

Spark tasks that share a GPU (``ner.gpu_amount_per_task`` < 1) each hold the model and a CUDA context, and the
device takes their kernels in turns: 16 such workers on an H200 reached 0.34x the bare forward (docs/scaling.md,
M10). With the forward server, the first task of a machine that needs a device starts one process that loads the
model there, and every task sends it the windows of its batch of documents over a local socket. Tokenising,
windows, decoding and entity rows stay in the tasks, in parallel. The server takes the requests of every task
that is waiting, sorts all their windows by length, runs them in batches of its token budget in one process and
one CUDA context, and sends each task its share (:class:`Forwards`). The server stops when no task has been
connected for ``idle_s`` seconds.

The wire is :mod:`multiprocessing.connection` over a Unix socket, with an auth key kept in a file only the user
can read. A request is ``(input_ids, attention_mask)``, right-padded numpy arrays. The reply is one of:

- ``("ok", logits, dtype)``: the logits in the model's own dtype (bf16 sent as its int16 bits), and the client
  applies the activation as a local forward does (windows batched with other windows than a local forward would
  batch them with can differ in the last bits, as with another ``max_batch_tokens``). As from a local forward,
  the rows at padded positions are not for use;
- ``("oom", message)``: even one window did not fit (the server halves its batches on out-of-memory first); the
  client raises ``torch.cuda.OutOfMemoryError``;
- ``("error", message)``: the client raises RuntimeError with the server's message. A request that fails is
  tried again on its own, so the other tasks' windows still get their logits.

Example (a server for the bundled model on the CPU, as a test starts it):
    >>> import kazu_spark
    >>> from kazu_spark.ner.model import load_token_classifier, versioned_name
    >>> folder = Path(kazu_spark.__file__).parent / "resources" / "model"
    >>> client = ForwardClient(folder, name=versioned_name(load_token_classifier(folder)), device="cpu",
    ...                        precision="fp32", idle_s=2)
    >>> client(np.array([[2, 1037, 3]]), np.ones((1, 3), dtype=np.int64)).shape
    torch.Size([1, 3, 13])
    >>> client.close()
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Client, Connection, Listener, wait
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from kazu_spark.ner.batching import DEFAULT_BATCH_TOKENS, is_out_of_memory, plan_buckets, run_batches
from kazu_spark.ner.model import load_for_inference

#: seconds a server waits for its model to load and its socket to accept, before the client gives up
START_TIMEOUT_S = 300.0
#: seconds a server with no connected task waits before it stops
IDLE_S = 60.0
#: seconds a task waits for the reply to one batch (the server answers the machine's tasks one batch at a time)
REPLY_TIMEOUT_S = 600.0
_BF16 = str(torch.bfloat16)


def server_address(
    *, name: str, device: str, precision: str, labels: Sequence[str] | None, max_batch_tokens: int
) -> Path:
    """The socket of the server for this model, device, precision and batch budget: one per user and machine.

    ``name`` is the model's versioned name, which holds the weights' hash: a model rewritten in place gets a server
    of its own, and the same weights shipped to a new folder (each Spark application unpacks its own copy) use the
    server that runs. The interpreter and this module's own path are part of the key, so two installs of
    kazu-spark on one machine (two versions, two virtual environments) never share a server. The folder is
    ``kazu-spark-<uid>`` in the temporary directory, readable by its user only.

    Example:
        >>> a = server_address(name="ner@1", device="cuda:0", precision="fp16", labels=None, max_batch_tokens=65536)
        >>> b = server_address(name="ner@1", device="cuda:1", precision="fp16", labels=None, max_batch_tokens=65536)
        >>> a.parent == b.parent, a != b, a.suffix
        (True, True, '.sock')
    """
    key = json.dumps([name, device, precision, list(labels or []), max_batch_tokens, sys.executable, __file__])
    root = Path(tempfile.gettempdir()) / f"kazu-spark-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    return root / f"fwd-{hashlib.sha256(key.encode()).hexdigest()[:16]}.sock"


@dataclass
class ServerStats:
    """What a server has run: requests answered, the groups they came in, forwards, windows, their tokens (without
    padding) and the padded tokens computed. ``padded / tokens`` is the padding the merged batches cost."""

    requests: int = 0
    groups: int = 0
    forwards: int = 0
    windows: int = 0
    tokens: int = 0
    padded: int = 0


def _failure(error: Exception) -> tuple[str, str]:
    if not is_out_of_memory(error):
        return "error", f"{type(error).__name__}: {error}"
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return "oom", str(error)


def _asks_stats(request: object) -> bool:
    """``("stats",)``; compared item by item, so that no array is compared with a string."""
    return isinstance(request, tuple) and len(request) == 1 and isinstance(request[0], str) and request[0] == "stats"


def _lengths(request: object) -> np.ndarray:
    """The windows' lengths of a well-formed request: two 2-D arrays of one shape, the mask right-padded."""
    if not (isinstance(request, tuple) and len(request) == 2 and all(isinstance(a, np.ndarray) for a in request)):
        raise TypeError("a request is (input_ids, attention_mask), two numpy arrays")
    ids, mask = request
    if ids.ndim != 2 or ids.shape != mask.shape:
        raise ValueError(f"input_ids {ids.shape} and attention_mask {mask.shape} must be 2-D and of one shape")
    lengths = mask.sum(axis=1).astype(np.int64)
    if not np.array_equal(mask != 0, np.arange(mask.shape[1]) < lengths[:, None]):
        raise ValueError("the attention mask must be right-padded: ones, then zeros")
    return lengths


class Forwards:
    """The server's work on the requests that are waiting: every window unpadded, all of them sorted by length and
    run in batches of at most ``max_tokens`` padded tokens, the short windows apart from the long ones
    (:func:`~kazu_spark.ner.batching.plan_buckets`; halved on out-of-memory,
    :func:`~kazu_spark.ner.batching.run_batches`), then put back in each request's own padded shape.

    Merging the tasks' requests gives the device larger forwards and pads less: a title's short window is
    batched with other short windows, not padded to the length of the body windows it came with.
    """

    def __init__(self, model: torch.nn.Module, max_tokens: int) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.max_tokens = max_tokens
        self.stats = ServerStats()

    def answer(self, requests: Sequence[object]) -> list[tuple]:
        """One reply per request; a malformed or failing request gets its own error, the others their logits."""
        if not requests:
            return []
        replies: list[tuple] = [()] * len(requests)
        lengths: dict[int, np.ndarray] = {}  # of the well-formed requests, by index
        for index, request in enumerate(requests):
            try:
                lengths[index] = _lengths(request)
            except (TypeError, ValueError) as error:
                replies[index] = _failure(error)
        groups = [list(lengths)] if lengths else []
        while groups:
            group = groups.pop()
            try:
                ran = self._run([requests[i] for i in group], [lengths[i] for i in group])
                for index, reply in zip(group, ran, strict=True):
                    replies[index] = reply
            except Exception as error:  # noqa: BLE001 - each request again on its own, so only the culprit fails
                if len(group) == 1:
                    replies[group[0]] = _failure(error)
                else:
                    groups += [[index] for index in group]
        self.stats.requests += len(requests)
        self.stats.groups += 1
        return replies

    def _run(self, requests: list[tuple[np.ndarray, np.ndarray]], sizes: list[np.ndarray]) -> list[tuple]:
        """The logits of every request's windows (``sizes``: their lengths, from :func:`_lengths`): stacked, planned,
        run, and cut back into each request's shape.

        Numpy and torch operations per request and per batch, none per window: a GPU's server handles thousands of
        windows a group, and its Python time is time the device waits. The logits stay on the device until the
        group is done, so the device runs one batch while the next is being prepared (no copy back in between).
        """
        lengths = np.concatenate(sizes)
        width = max(ids.shape[1] for ids, _ in requests)
        stacked = np.zeros((len(lengths), width), dtype=np.int64)
        starts = np.cumsum([0, *(len(ids) for ids, _ in requests)])
        for (ids, _), start in zip(requests, starts, strict=False):
            stacked[start : start + len(ids), : ids.shape[1]] = ids
        out: torch.Tensor | None = None

        def forward(batch: list[int]) -> list[int]:
            nonlocal out
            rows = np.asarray(batch)
            longest = int(lengths[rows].max())
            mask = torch.from_numpy((np.arange(longest) < lengths[rows, None]).astype(np.int64))
            ids = torch.from_numpy(stacked[rows, :longest])
            logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
            if out is None:  # what is never written is at padded positions only
                out = torch.empty((len(lengths), width, logits.shape[-1]), dtype=logits.dtype, device=self.device)
            out[torch.from_numpy(rows).to(self.device), :longest] = logits
            self.stats.forwards += 1
            self.stats.padded += longest * len(batch)
            return batch  # the logits are in ``out``; run_batches wants one result per window

        with torch.inference_mode():
            run_batches(lengths.tolist(), forward, max_tokens=self.max_tokens, plan=plan_buckets)
        self.stats.windows += len(lengths)
        self.stats.tokens += int(lengths.sum())
        out = torch.zeros((0, width, self.model.config.num_labels)) if out is None else out.cpu()  # None: no window
        replies = []
        for (ids, _), start in zip(requests, starts, strict=False):
            part = out[start : start + len(ids), : ids.shape[1]].contiguous()
            bf16 = part.dtype == torch.bfloat16
            replies.append(("ok", (part.view(torch.int16) if bf16 else part).numpy(), str(part.dtype)))
        return replies


def serve(model: torch.nn.Module, address: Path, key: bytes, *, max_tokens: int, idle_s: float = IDLE_S) -> ServerStats:
    """Answer the requests of every connected task until none has been connected for ``idle_s``; what it ran.

    A thread accepts connections; the loop waits on the connected ones, takes the request of every one that sent
    one and answers them together (:class:`Forwards`). A ``("stats",)`` request gets ``("stats", {...})``, the
    :class:`ServerStats` so far. On the way out the server takes the start lock, so a task starting a new server
    waits for this one to be gone, and removes the socket only if it is still its own.
    """
    listener = Listener(str(address), family="AF_UNIX", authkey=key)
    inode = address.stat().st_ino
    connections: list[Connection] = []
    guard = threading.Lock()
    last_seen = time.monotonic()
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                connection = listener.accept()
            except Exception:  # noqa: BLE001 - a wrong key or a client gone mid-handshake; the others still come in
                continue
            with guard:
                connections.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    forwards = Forwards(model, max_tokens)
    while True:
        with guard:
            connected = list(connections)
        if not connected:
            if time.monotonic() - last_seen > idle_s:
                break
            time.sleep(0.05)
            continue
        last_seen = time.monotonic()
        waiting: list[tuple[Connection, object]] = []
        gone: list[Connection] = []
        for connection in wait(connected, timeout=0.05):
            try:
                waiting.append((connection, connection.recv()))
            except (EOFError, OSError):  # the task ended (or its worker was killed)
                gone.append(connection)
        batches = [(c, r) for c, r in waiting if not _asks_stats(r)]
        replies = dict(zip((c for c, _ in batches), forwards.answer([r for _, r in batches]), strict=True))
        for connection, _ in waiting:
            try:
                connection.send(replies.get(connection, ("stats", asdict(forwards.stats))))
            except OSError:
                gone.append(connection)
        for connection in gone:
            with guard:
                connections.remove(connection)
            connection.close()
    with FileLock(f"{address}.lock"):
        stopping.set()
        listener.close()
        if address.exists() and address.stat().st_ino == inode:
            address.unlink()
    return forwards.stats


class ForwardClient:
    """The forward of a model on ``device``, run by the machine's forward server (started here if none runs).

    Called with a right-padded batch (``input_ids``, ``attention_mask`` numpy arrays) of any size, it returns the
    logits as a torch tensor in the model's dtype (the rows where the mask is 0 are not for use, as from a local
    forward). The server runs what its tasks send in
    batches of at most ``max_batch_tokens`` padded tokens (None: the device's default,
    :data:`~kazu_spark.ner.batching.DEFAULT_BATCH_TOKENS`). A server that went away (stopped when idle, or killed) is
    started again once.
    """

    def __init__(
        self,
        folder: Path,
        *,
        name: str,
        device: str,
        precision: str,
        labels: Sequence[str] | None = None,
        allow_pickle_weights: bool = False,
        max_batch_tokens: int | None = None,
        idle_s: float = IDLE_S,
        start_timeout_s: float = START_TIMEOUT_S,
        reply_timeout_s: float = REPLY_TIMEOUT_S,
    ) -> None:
        self.folder = folder
        self.device = device
        self.precision = precision
        self.labels = list(labels) if labels else None
        self.allow_pickle_weights = allow_pickle_weights
        self.max_batch_tokens = max_batch_tokens or DEFAULT_BATCH_TOKENS[torch.device(device).type]
        self.idle_s = idle_s
        self.start_timeout_s = start_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.address = server_address(
            name=name, device=device, precision=precision, labels=labels, max_batch_tokens=self.max_batch_tokens
        )
        self._connection: Connection | None = None

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> torch.Tensor:
        for attempt in range(2):
            try:
                connection = self._connect()
                connection.send((input_ids, attention_mask))
                reply = connection.recv() if connection.poll(self.reply_timeout_s) else None
                break
            except (EOFError, OSError) as error:
                self.close()
                if attempt:
                    raise RuntimeError(f"the NER forward server at {self.address} went away: {error}") from error
        if reply is None:
            self.close()
            raise TimeoutError(f"the NER forward server at {self.address} sent no reply in "
                               f"{self.reply_timeout_s:g} s (its log: {self.address}.log)")  # fmt: skip
        if reply[0] == "oom":
            raise torch.cuda.OutOfMemoryError(reply[1])
        if reply[0] == "error":
            raise RuntimeError(f"the NER forward server at {self.address}: {reply[1]}")
        logits = torch.from_numpy(reply[1])
        return logits.view(torch.bfloat16) if reply[2] == _BF16 else logits

    def stats(self) -> dict[str, int]:
        """What the server has run so far (:class:`ServerStats`), starting it if none runs."""
        connection = self._connect()
        connection.send(("stats",))
        return connection.recv()[1]

    def close(self) -> None:
        """Drop the connection (the server stops once no task has one for ``idle_s`` seconds)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> Connection:
        if self._connection is None:
            try:
                self._connection = self._open()
            except (FileNotFoundError, ConnectionRefusedError):
                self._connection = self._start()
        return self._connection

    def _open(self) -> Connection:
        key = Path(f"{self.address}.key").read_bytes()
        return Client(str(self.address), family="AF_UNIX", authkey=key)

    def _start(self) -> Connection:
        """Start the server under the start lock (another task may have just started it), and connect."""
        with FileLock(f"{self.address}.lock"):
            try:
                return self._open()
            except (FileNotFoundError, ConnectionRefusedError):
                pass
            self.address.unlink(missing_ok=True)  # a server that died leaves its socket behind
            key_file = Path(f"{self.address}.key")
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(os.urandom(32))
            log = Path(f"{self.address}.log")
            command = [sys.executable, "-m", "kazu_spark.ner.forward_server", "--model", str(self.folder),
                       "--device", self.device, "--precision", self.precision, "--address", str(self.address),
                       "--idle-s", str(self.idle_s), "--max-batch-tokens", str(self.max_batch_tokens)]  # fmt: skip
            if self.labels:
                command += ["--labels", json.dumps(self.labels)]
            if self.allow_pickle_weights:
                command.append("--allow-pickle-weights")
            with log.open("ab") as out:
                server = subprocess.Popen(  # noqa: S603 - our own module, run by this interpreter
                    command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            deadline = time.monotonic() + self.start_timeout_s
            while time.monotonic() < deadline:
                if server.poll() is not None:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the NER forward server exited with {server.returncode}; its log ends:\n{tail}")
                try:
                    return self._open()
                except (FileNotFoundError, ConnectionRefusedError):
                    time.sleep(0.05)
            server.kill()
            raise RuntimeError(f"the NER forward server did not start within {self.start_timeout_s:g} s (log: {log})")


def main(argv: Sequence[str] | None = None) -> None:
    """The server process: load the model as :meth:`~kazu_spark.ner.tagger.Tagger.from_dir` does, then serve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--precision", required=True)
    parser.add_argument("--address", type=Path, required=True)
    parser.add_argument("--labels", type=json.loads)
    parser.add_argument("--allow-pickle-weights", action="store_true")
    parser.add_argument("--idle-s", type=float, default=IDLE_S)
    parser.add_argument("--max-batch-tokens", type=int, required=True)
    args = parser.parse_args(argv)
    loaded = load_for_inference(
        args.model, device=args.device, precision=args.precision, labels=args.labels,
        allow_pickle_weights=args.allow_pickle_weights,
    )  # fmt: skip
    print(f"serving {args.model} on {args.device} ({args.precision}) at {args.address}, pid {os.getpid()}", flush=True)
    key = Path(f"{args.address}.key").read_bytes()
    stats = serve(loaded.model, args.address, key, max_tokens=args.max_batch_tokens, idle_s=args.idle_s)
    print(f"stopped after {args.idle_s:g} s without a task, pid {os.getpid()}: {asdict(stats)}", flush=True)


if __name__ == "__main__":
    main()
