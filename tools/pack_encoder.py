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

    python -m tools.pack_encoder pack <encoder folder> <packed folder> [--layers N]  # here
    python -m tools.pack_encoder unpack <packed folder> <encoder folder>             # there

``--layers N`` keeps the first N encoder layers only (the synonym encoder trains on 2: ``bench/gpu_linker.sh``).
"""

from __future__ import annotations

import argparse
import json
import re
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


def first_layers(tensors: Mapping[str, np.ndarray], layers: int) -> dict[str, np.ndarray]:
    """The tensors without those of encoder layers ``layers`` and above.

    Example:
        >>> names = ["embeddings.word_embeddings.weight", "encoder.layer.0.output.dense.weight",
        ...          "encoder.layer.2.output.dense.weight", "encoder.layer.10.output.dense.weight"]
        >>> sorted(first_layers(dict.fromkeys(names, np.zeros(1)), 2))
        ['embeddings.word_embeddings.weight', 'encoder.layer.0.output.dense.weight']
    """
    kept = {}
    for name, value in tensors.items():
        layer = re.search(r"(?:^|\.)encoder\.layer\.(\d+)\.", name)
        if layer is None or int(layer.group(1)) < layers:
            kept[name] = value
    return kept


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
    p.add_argument("--layers", type=int, help="pack: keep the first N encoder layers only")
    args = p.parse_args(argv)
    source, out = Path(args.source), Path(args.out)
    tensors = load_file(str(source / WEIGHTS))
    if args.layers is not None:
        tensors = first_layers(tensors, args.layers)
    convert = quantised if args.action == "pack" else dequantised
    _copy_folder(source, out, convert(tensors))
    if args.layers is not None:
        config = json.loads((out / "config.json").read_text(encoding="utf-8"))
        (out / "config.json").write_text(json.dumps({**config, "num_hidden_layers": args.layers}, indent=2) + "\n")


if __name__ == "__main__":
    main()
