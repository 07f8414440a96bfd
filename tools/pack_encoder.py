"""Pack an encoder folder into int8 for the GPU machine, and unpack it there (``bench/gpu_train.sh``).

A lent GPU machine takes a 64 MiB working tree, and the checkout already holds the bundled model (29 MB), so the
MiniLM base encoder (87 MB in fp32, 44 MB in fp16) cannot travel as it is. ``pack`` stores every matrix of its
weights as int8 with one fp16 scale per row (symmetric: ``scale = max |row| / 127``) and every vector in fp16:
22 MB. ``unpack`` rebuilds an fp32 folder that ``train teacher --base-model`` reads. The round trip moves each
weight by at most half a step of its row (0.4 % of the row's largest weight): the starting point of a
fine-tuning, not a model to run as it is.

Example (a random matrix and vector, round trip):
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> tensors = {"w": rng.normal(size=(4, 8)).astype(np.float32), "b": rng.normal(size=8).astype(np.float32)}
    >>> back = dequantised(quantised(tensors))
    >>> step = np.abs(tensors["w"]).max(axis=1, keepdims=True) / 127
    >>> bool((np.abs(back["w"] - tensors["w"]) <= step / 2 + 1e-3).all()), back["b"].dtype
    (True, dtype('float32'))

    python -m tools.pack_encoder pack <encoder folder> <packed folder>   # here
    python -m tools.pack_encoder unpack <packed folder> <encoder folder> # there
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

WEIGHTS = "model.safetensors"
#: a packed matrix ``name`` is ``name`` (int8) and ``name + SCALE`` (fp16, one per row)
SCALE = ".int8_scale"


def quantised(tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Matrices as int8 rows and their fp16 scales, vectors (and scalars) as fp16. Example: the module docstring."""
    out: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if not np.issubdtype(value.dtype, np.floating):  # integer buffers (position ids) travel as they are
            out[name] = value
            continue
        value = value.astype(np.float32)
        if value.ndim < 2:
            out[name] = value.astype(np.float16)
            continue
        rows = value.reshape(value.shape[0], -1)
        scale = np.maximum(np.abs(rows).max(axis=1, keepdims=True), 1e-12) / 127
        out[name] = np.clip(np.rint(rows / scale), -127, 127).astype(np.int8).reshape(value.shape)
        out[name + SCALE] = scale.astype(np.float16)
    return out


def dequantised(packed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The fp32 tensors of :func:`quantised`'s output."""
    out = {}
    for name, value in packed.items():
        if name.endswith(SCALE):
            continue
        if name + SCALE in packed:
            rows = value.reshape(value.shape[0], -1).astype(np.float32) * packed[name + SCALE].astype(np.float32)
            out[name] = rows.reshape(value.shape)
        else:
            out[name] = value.astype(np.float32) if np.issubdtype(value.dtype, np.floating) else value
    return out


def _copy_folder(source: Path, out: Path, tensors: dict[str, np.ndarray]) -> None:
    """``out``: ``tensors`` as its weights, and every other file of ``source`` (config, tokenizer) beside them."""
    out.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and path.name != WEIGHTS:
            shutil.copy(path, out / path.name)
    save_file(tensors, str(out / WEIGHTS), metadata={"format": "pt"})


def main(argv: list[str] | None = None) -> None:
    """``pack SRC OUT`` or ``unpack SRC OUT`` (folders: weights in ``model.safetensors``, config, tokenizer)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("action", choices=("pack", "unpack"))
    p.add_argument("source")
    p.add_argument("out")
    args = p.parse_args(argv)
    source = Path(args.source)
    convert = quantised if args.action == "pack" else dequantised
    _copy_folder(source, Path(args.out), convert(load_file(str(source / WEIGHTS))))


if __name__ == "__main__":
    main()
