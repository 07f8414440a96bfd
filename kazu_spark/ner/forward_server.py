"""One forward process per device for the NER tasks of a machine (``ner.forward_server``).

Spark tasks that share a GPU (``ner.gpu_amount_per_task`` < 1) each hold the model and a CUDA context, and the
device takes their kernels in turns: 16 such workers on an H200 reached 0.34x the bare forward (docs/scaling.md,
M10). With the forward server, the first task of a machine that needs a device starts one process that loads the
model there, and every task sends it its padded batches over a local socket. Tokenising, windows, decoding and
entity rows stay in the tasks, in parallel; the forwards run one after another in one process and one CUDA
context. The server stops when no task has been connected for ``idle_s`` seconds.

The wire is :mod:`multiprocessing.connection` over a Unix socket, with an auth key kept in a file only the user
can read. A request is ``(input_ids, attention_mask)`` as numpy arrays. The reply is one of:

- ``("ok", logits, dtype)``: the logits in the model's own dtype (bf16 sent as its int16 bits), so the client's
  activation gives what a local forward gives, bit for bit;
- ``("oom", message)``: the client raises ``torch.cuda.OutOfMemoryError``, and
  :func:`~kazu_spark.ner.batching.run_batches` halves the batch as it does for a local forward;
- ``("error", message)``: the client raises RuntimeError with the server's message.

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
from multiprocessing.connection import Client, Connection, Listener, wait
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from kazu_spark.ner.batching import is_out_of_memory
from kazu_spark.ner.model import load_for_inference

#: seconds a server waits for its model to load and its socket to accept, before the client gives up
START_TIMEOUT_S = 300.0
#: seconds a server with no connected task waits before it stops
IDLE_S = 60.0
_BF16 = str(torch.bfloat16)


def server_address(*, name: str, device: str, precision: str, labels: Sequence[str] | None) -> Path:
    """The socket of the server for this model, device and precision: one per user and machine.

    ``name`` is the model's versioned name, which holds the weights' hash: a model rewritten in place gets a server
    of its own, and the same weights shipped to a new folder (each Spark application unpacks its own copy) use the
    server that runs. The folder is ``kazu-spark-<uid>`` in the temporary directory, readable by its user only.

    Example:
        >>> a = server_address(name="ner@1", device="cuda:0", precision="fp16", labels=None)
        >>> b = server_address(name="ner@1", device="cuda:1", precision="fp16", labels=None)
        >>> a.parent == b.parent, a != b, a.suffix
        (True, True, '.sock')
    """
    key = json.dumps([name, device, precision, list(labels or [])])
    root = Path(tempfile.gettempdir()) / f"kazu-spark-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    return root / f"fwd-{hashlib.sha256(key.encode()).hexdigest()[:16]}.sock"


def respond(model: torch.nn.Module, request: tuple[np.ndarray, np.ndarray]) -> tuple:
    """The reply to one request: the model's logits over the padded batch, or why there are none."""
    device = next(model.parameters()).device
    input_ids, attention_mask = request
    try:
        with torch.inference_mode():
            logits = model(
                input_ids=torch.from_numpy(input_ids).to(device),
                attention_mask=torch.from_numpy(attention_mask).to(device),
            ).logits.cpu()
    except Exception as error:  # noqa: BLE001 - the task that sent it gets the message, the server goes on
        if not is_out_of_memory(error):
            return "error", f"{type(error).__name__}: {error}"
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return "oom", str(error)
    dtype = str(logits.dtype)
    return "ok", (logits.view(torch.int16) if dtype == _BF16 else logits).numpy(), dtype


def serve(model: torch.nn.Module, address: Path, key: bytes, *, idle_s: float = IDLE_S) -> None:
    """Answer the requests of every connected task, one at a time, until none has been connected for ``idle_s``.

    A thread accepts connections; the loop waits on the connected ones and answers each that sent a request.
    On the way out it takes the start lock, so a task starting a new server waits for this one to be gone, and
    removes the socket only if it is still its own.
    """
    listener = Listener(str(address), family="AF_UNIX", authkey=key)
    inode = address.stat().st_ino
    connections: list[Connection] = []
    guard = threading.Lock()
    last_seen = [time.monotonic()]
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
    while True:
        with guard:
            connected = list(connections)
        if not connected:
            if time.monotonic() - last_seen[0] > idle_s:
                break
            time.sleep(0.05)
            continue
        last_seen[0] = time.monotonic()
        for connection in wait(connected, timeout=0.05):
            try:
                request = connection.recv()
                connection.send(respond(model, request))
            except (EOFError, OSError):  # the task ended (or its worker was killed)
                with guard:
                    connections.remove(connection)
                connection.close()
    with FileLock(f"{address}.lock"):
        stopping.set()
        listener.close()
        if address.exists() and address.stat().st_ino == inode:
            address.unlink()


class ForwardClient:
    """The forward of a model on ``device``, run by the machine's forward server (started here if none runs).

    Called with a padded batch (``input_ids``, ``attention_mask`` numpy arrays), it returns the logits as a torch
    tensor in the model's dtype. A server that went away (stopped when idle, or killed) is started again once.
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
        idle_s: float = IDLE_S,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self.folder = folder
        self.device = device
        self.precision = precision
        self.labels = list(labels) if labels else None
        self.allow_pickle_weights = allow_pickle_weights
        self.idle_s = idle_s
        self.start_timeout_s = start_timeout_s
        self.address = server_address(name=name, device=device, precision=precision, labels=labels)
        self._connection: Connection | None = None

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> torch.Tensor:
        for attempt in range(2):
            try:
                connection = self._connect()
                connection.send((input_ids, attention_mask))
                reply = connection.recv()
                break
            except (EOFError, OSError) as error:
                self.close()
                if attempt:
                    raise RuntimeError(f"the NER forward server at {self.address} went away: {error}") from error
        if reply[0] == "oom":
            raise torch.cuda.OutOfMemoryError(reply[1])
        if reply[0] == "error":
            raise RuntimeError(f"the NER forward server at {self.address}: {reply[1]}")
        logits = torch.from_numpy(reply[1])
        return logits.view(torch.bfloat16) if reply[2] == _BF16 else logits

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
                       "--idle-s", str(self.idle_s)]  # fmt: skip
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
    args = parser.parse_args(argv)
    loaded = load_for_inference(
        args.model, device=args.device, precision=args.precision, labels=args.labels,
        allow_pickle_weights=args.allow_pickle_weights,
    )  # fmt: skip
    print(f"serving {args.model} on {args.device} ({args.precision}) at {args.address}, pid {os.getpid()}", flush=True)
    serve(loaded.model, args.address, Path(f"{args.address}.key").read_bytes(), idle_s=args.idle_s)
    print(f"stopped after {args.idle_s:g} s without a task, pid {os.getpid()}", flush=True)


if __name__ == "__main__":
    main()
