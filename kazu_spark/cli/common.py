"""What every command shares: the ``--conf/--set/--lakehouse`` flags, loading the config, the SparkSession.

Example:
    >>> import argparse
    >>> parser = with_conf(argparse.ArgumentParser())
    >>> args = parser.parse_args(["--set", "ner.threshold=0.4", "--lakehouse", "/tmp/lh"])
    >>> cfg = load(args, {"lakehouse": args.lakehouse})
    >>> cfg.ner.threshold, cfg.lakehouse
    (0.4, '/tmp/lh')
"""

from __future__ import annotations

import argparse
from typing import Any

from pyspark.sql import SparkSession

from kazu_spark.config import Config, load_config, parse_overrides
from kazu_spark.runtime.session import build_session

#: the help of ``--set``: its value is YAML, and a string YAML would change is refused rather than changed
SET_HELP = (
    "override one config key, repeatable; the value is YAML (0.4, false, [a, b], {k: v}); quote a string YAML "
    "would read differently (key='/data/lake #prod'): unquoted, it is refused. Other flags are taken literally"
)


def with_conf(p: argparse.ArgumentParser, *, lakehouse: bool = True) -> argparse.ArgumentParser:
    """Add the config flags: ``--conf``, ``--set`` and, for a command that works on a lakehouse, ``--lakehouse``."""
    p.add_argument("--conf", help="YAML file layered over conf/default.yaml")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    if lakehouse:
        p.add_argument("--lakehouse", help="lakehouse folder or URI (config: lakehouse)")
    return p


def load(args: argparse.Namespace, flags: dict[str, Any]) -> Config:
    """The validated config: defaults, then ``--conf``, then the command's flags (taken literally; None: not
    given), then ``--set`` (values read as YAML, see :func:`~kazu_spark.config.yaml_value`)."""
    return load_config(args.conf, parse_overrides(args.set or []), flags=flags)


def session(cfg: Config, app: str, *, quick_start: bool = False) -> SparkSession:
    """The SparkSession of a command, on the configured master with the configured Spark settings
    (``quick_start``: a small run, see :func:`~kazu_spark.runtime.session.build_session`)."""
    return build_session(
        app, cfg.spark.master, remote=cfg.spark.remote, extra_conf=cfg.spark.conf, quick_start=quick_start
    )
