"""The ``kazu-spark`` command: set-up, annotate, ontologies, knowledge graph, maintenance, evaluation, training.

Every sub-command validates its configuration before it starts Spark, so a bad value fails in a second
with a message naming the key. ``jobs/*.py`` call :func:`main` so spark-submit runs the same code.

Each command lives in its own module of :mod:`kazu_spark.cli` (see :data:`COMMANDS`), imported only when
that command runs: ``annotate`` never imports ``train``'s torch. Logs go to stderr as JSON lines
(:mod:`kazu_spark.cli.logs`). An expected error (:class:`~kazu_spark.errors.KazuSparkError`) ends the run
with one line on stderr, ``kazu-spark: error: <message>``, and exit code 2 for a configuration error (as
for a usage error) or 1 for any other; ``--verbose`` adds its traceback. Any other exception is a bug
and shows its traceback.

Example:
    >>> import contextlib
    >>> with contextlib.redirect_stderr(sys.stdout):
    ...     try:
    ...         main(["annotate", "--set", "ner.threshold=7"])
    ...     except SystemExit as exc:
    ...         print("exit code", exc.code)
    kazu-spark: error: invalid configuration: ner.threshold: Input should be less than or equal to 1 (got 7)
    exit code 2
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections.abc import Collection, Sequence
from importlib import import_module

from kazu_spark import __version__
from kazu_spark.cli.logs import json_logs
from kazu_spark.errors import ConfigError, CredentialsInPathError, KazuSparkError

#: command -> (module of kazu_spark.cli that declares and runs it, help line), in the order ``--help`` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "setup": ("jars", "fetch and cache the Delta Lake jars; make the JVM class archive"),
    "annotate": ("annotate", "tag and link documents into Delta tables"),
    "ontologies": ("ontologies", "ontology tables"),
    "kg": ("kg", "knowledge-graph tables"),
    "maintain": ("maintain", "compact (OPTIMIZE) and VACUUM the lakehouse tables"),
    "evaluate": ("evaluate", "evaluation"),
    "report": ("report", "write an HTML report of the lakehouse"),
    "train": ("train", "train NER models and the linking encoder"),
    "label": ("label", "write a teacher's soft labels for a corpus to Delta"),
}
#: errors that mean "fix the configuration or the flags": exit code 2, like argparse's usage errors
USAGE_ERRORS = (ConfigError, CredentialsInPathError)


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser; only the modules of ``commands`` (every one when None) are imported to declare flags.

    The other commands are still listed (with their help line), so ``kazu-spark --help`` and an unknown
    command's error name them all without importing any command module.

    Example:
        >>> build_parser(["maintain"]).parse_args(["maintain", "--retention-hours", "200"]).retention_hours
        200.0
    """
    parser = argparse.ArgumentParser(prog="kazu-spark", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"kazu-spark {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, and tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_line) in COMMANDS.items():
        p = sub.add_parser(name, help=help_line)
        if commands is None or name in commands:
            import_module(f"{__package__}.{module}").add_arguments(p)
    return parser


def exit_code(exc: KazuSparkError) -> int:
    """The exit code of an expected error: 2 for a configuration error, 1 for any other.

    Example:
        >>> from kazu_spark.errors import InputError
        >>> exit_code(ConfigError("ner.threshold: ...")), exit_code(InputError("input path x does not exist"))
        (2, 1)
    """
    return 2 if isinstance(exc, USAGE_ERRORS) else 1


def error_line(exc: KazuSparkError) -> str:
    """The one line an expected error prints: its message, with any line breaks (a YAML parser's) made spaces.

    Example:
        >>> error_line(ConfigError("configuration file x.yaml is not valid YAML: while parsing\\n  in line 2"))
        'kazu-spark: error: configuration file x.yaml is not valid YAML: while parsing in line 2'
    """
    return "kazu-spark: error: " + re.sub(r"\s*\n\s*", " ", str(exc).strip())


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``kazu-spark`` console script (raises SystemExit on an expected error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"] and argv[1:2] not in (
        ["teacher"],
        ["distill"],
        ["all"],
        ["mlm"],
        ["thresholds"],
        ["linker"],
        ["names"],
        ["-h"],
        ["--help"],
    ):
        argv.insert(1, "teacher")  # `kazu-spark train ...` from before the teacher/distill split
    command = next((a for a in argv if not a.startswith("-")), None)  # the top-level flags take no value
    args = build_parser([command] if command else []).parse_args(argv)
    with json_logs(verbose=args.verbose):
        try:
            args.func(args)
        except KazuSparkError as exc:
            if args.verbose:
                traceback.print_exc()
            print(error_line(exc), file=sys.stderr)
            raise SystemExit(exit_code(exc)) from None


if __name__ == "__main__":
    main()
