"""Logs as JSON lines: one ``json.dumps`` object per record, so every line a run writes parses.

Fields: ``ts`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``msg`` (the formatted message),
then every ``extra={...}`` field of the call as a top-level key (a dict stays an object), and ``exc``
(the traceback) when the record carries exception info. Strings are escaped by ``json.dumps`` (quotes,
newlines, non-ASCII as ``\\uXXXX``, so a line is valid JSON whatever the stream's encoding).

Example:
    >>> record = logging.makeLogRecord({"name": "kazu_spark.pipeline", "levelname": "INFO", "created": 0.0,
    ...     "msg": "annotate run %s", "args": ("r1",), "config": {"ner": {"threshold": 0.5}}})
    >>> print(JsonFormatter().format(record))
    {"ts": "1970-01-01T00:00:00.000+00:00", "level": "INFO", "logger": "kazu_spark.pipeline", "msg": "annotate run r1", "config": {"ner": {"threshold": 0.5}}}
"""  # noqa: E501

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

#: attributes every LogRecord has; anything else on a record came from the call's ``extra``
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
#: the fields a record always has, in this order; an ``extra`` key of the same name does not replace them
_CORE_FIELDS = ("ts", "level", "logger", "msg")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line (see the module docstring for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line; values ``json`` cannot encode are written as their ``str()``."""
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in _CORE_FIELDS:
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str)


@contextmanager
def json_logs(verbose: bool = False) -> Iterator[logging.Handler]:
    """Send every log record (INFO, or DEBUG when ``verbose``) to stderr as JSON lines, for the ``with`` block.

    The handler writes to ``sys.stderr`` as it is on entry; on exit the handler is removed and the log
    levels are restored, so calling the CLI in-process (tests, notebooks) leaves no handler behind.
    Py4J's chatter (every gateway call at DEBUG/INFO) is kept to warnings.

    Example:
        >>> import io, contextlib
        >>> with contextlib.redirect_stderr(io.StringIO()) as err, json_logs():
        ...     logging.getLogger("kazu_spark").info('stage "%s" done', "ingest", extra={"rows": 2})
        >>> json.loads(err.getvalue())["rows"]
        2
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root, py4j = logging.getLogger(), logging.getLogger("py4j")
    levels = root.level, py4j.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    py4j.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        py4j.setLevel(levels[1])
