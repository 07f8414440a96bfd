"""The errors a user can expect and fix: a bad config, an unreadable input, missing jars, an unsafe model.

Each is a :class:`KazuSparkError`, so the ``kazu-spark`` command can tell them from bugs: it prints an
expected error as one line (``kazu-spark: error: <message>``) and exits non-zero, and shows a traceback
only for anything else. Each also keeps the built-in base it had before this module existed
(``ValueError`` or ``RuntimeError``), so ``except ValueError`` code keeps catching it.

This module imports nothing from the package: every layer may raise these.

Example:
    >>> try:
    ...     raise InputError("input path /nowhere does not exist")
    ... except KazuSparkError as exc:
    ...     print(f"kazu-spark: error: {exc}")
    kazu-spark: error: input path /nowhere does not exist
    >>> issubclass(ConfigError, ValueError), issubclass(DeltaJarsMissing, RuntimeError)
    (True, True)
"""

from __future__ import annotations


class KazuSparkError(Exception):
    """Base of the errors whose message alone tells the user what to fix (no traceback needed)."""


class ConfigError(KazuSparkError, ValueError):
    """Raised for an unreadable or invalid configuration; the message names the offending key."""


class CredentialsInPathError(KazuSparkError, ValueError):
    """A configured URI holds ``user:secret@``; its message never repeats the path."""


class InputError(KazuSparkError, ValueError):
    """The input as a whole cannot be read: raised before any job runs, with the path and the reason."""


class DeltaJarsMissing(KazuSparkError, RuntimeError):
    """Raised when the cached Delta jars are absent: run the set-up step first."""


class ModelError(KazuSparkError, ValueError):
    """The configured NER model cannot be loaded: no such folder, no model folder in a pack, a broken config.json,
    weights refused or missing, labels that do not fit; raised on the driver before a job reads or writes."""


class UnsafeWeightsError(ModelError):
    """The model folder has no safetensors weights and pickled weights were not opted into."""


class LabelManifestError(ModelError):
    """A model's label list is missing, malformed, or disagrees with its config or classifier head."""


class LakehouseError(KazuSparkError, RuntimeError):
    """A lakehouse table's location holds something that is not that Delta table (other files): not overwritten."""
