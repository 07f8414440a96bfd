"""Inference precision: which dtype a model runs in on this device and CPU, and int8 quantisation.

``precision: auto`` is fp16 on CUDA, bf16 on CPUs that run bf16 matmuls natively (AMX or AVX-512 BF16;
elsewhere bf16 is emulated and slower than fp32), else fp32. The NER tagger and the synonym encoder of
embedding linking both resolve their ``precision`` setting here.

Example:
    >>> resolve_precision("cpu", "fp32"), DTYPES["bf16"]
    ('fp32', torch.bfloat16)
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import PreTrainedModel

#: CPU flags under which bf16 matmuls run natively (AMX tiles or AVX-512 BF16)
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
#: precision -> dtype the weights are loaded in (int8 loads fp32, then quantises the Linear layers)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}
#: whether ``precision: auto`` quantises to int8 on CPUs without native bf16: only if the measured F1 cost
#: of int8 is below 0.3 points (see the bundled model's MODEL_CARD.md, "Inference precision")
AUTO_INT8 = False
#: where the CPU flags are read
CPUINFO = Path("/proc/cpuinfo")


@functools.cache
def cpu_has_fast_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """True if the CPU flags include AMX-BF16 or AVX512-BF16 (False where /proc/cpuinfo is absent). Read once a
    process: the embedding step asks on every batch it scores."""
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return False
    return bool(flags & BF16_CPU_FLAGS)


def cpu_description(cpuinfo: Path = CPUINFO) -> str:
    r"""The CPU model, core count and the flags that decide ``precision: auto``, for benchmark output.

    Example:
        >>> import tempfile
        >>> info = Path(tempfile.mkdtemp()) / "cpuinfo"
        >>> _ = info.write_text("model name\t: AMD EPYC\nflags\t: fpu avx2 avx512_bf16\n")
        >>> cpu_description(info).split(", ")[0], cpu_description(info).endswith("avx2 avx512_bf16")
        ('AMD EPYC', True)
    """
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return "unknown CPU"
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = sorted(set(fields.get("flags", "").split()) & (BF16_CPU_FLAGS | {"avx2", "avx512f"}))
    return f"{fields.get('model name', 'unknown CPU')}, {os.cpu_count()} cores, flags {' '.join(flags) or 'none'}"


def training_precision(device: str, precision: str) -> str:
    """Concrete autocast precision of a training run: "auto" is bf16 on CUDA and on CPUs with native bf16, else
    fp32. Emulated bf16 (an AVX2-only CPU) trains the synonym encoder some fifty times slower than fp32.

    Example:
        >>> training_precision("cuda", "auto"), training_precision("cpu", "fp32"), training_precision("cpu", "bf16")
        ('bf16', 'fp32', 'bf16')
    """
    if precision != "auto":
        return precision
    return "bf16" if device.startswith("cuda") or cpu_has_fast_bf16() else "fp32"


def resolve_precision(device: str, precision: str) -> str:
    """Concrete precision: "auto" is fp16 on CUDA, bf16 on CPUs with native bf16, else fp32 (or int8, see AUTO_INT8).

    fp16 runs only on CUDA and int8 (dynamic quantisation) only on CPU.

    Example:
        >>> resolve_precision("cpu", "int8"), resolve_precision("cuda", "auto"), resolve_precision("cuda", "bf16")
        ('int8', 'fp16', 'bf16')
    """
    if precision == "auto":
        if device.startswith("cuda"):
            return "fp16"
        return "bf16" if cpu_has_fast_bf16() else ("int8" if AUTO_INT8 else "fp32")
    if precision not in DTYPES:
        raise ValueError(f"precision must be auto, {', '.join(DTYPES)}; got {precision!r}")
    if precision == "fp16" and not device.startswith("cuda"):
        raise ValueError("fp16 inference is only supported on CUDA; use bf16, int8 or fp32 on CPU")
    if precision == "int8" and device.startswith("cuda"):
        raise ValueError("int8 dynamic quantisation runs on CPU only; use fp16 or bf16 on CUDA")
    return precision


@contextlib.contextmanager
def quiet_quantisation() -> Iterator[None]:
    """Silence the deprecation warnings of ``torch.ao``'s int8 quantisation (its functions, modules and quantised
    tensors): deprecated in favour of torchao, which is not a dependency and needs no less work offline."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, UserWarning, FutureWarning))
        yield


def quantize_int8(model: PreTrainedModel) -> PreTrainedModel:
    """The model with every ``nn.Linear`` dynamically quantised to int8 (weights int8, activations per batch),
    by ``torch.ao.quantization.quantize_dynamic`` (:func:`quiet_quantisation`).
    """
    with quiet_quantisation():
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
