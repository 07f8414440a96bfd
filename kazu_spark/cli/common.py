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

from pyspark.sql import SparkSession

from kazu_spark.config import Config, load_config, parse_overrides
from kazu_spark.runtime.session import build_session


def with_conf(p: argparse.ArgumentParser, *, lakehouse: bool = True) -> argparse.ArgumentParser:
    """Add the config flags: ``--conf``, ``--set`` and, for a command that works on a lakehouse, ``--lakehouse``."""
    p.add_argument("--conf", help="YAML file layered over conf/default.yaml")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one config key, repeatable")
    if lakehouse:
        p.add_argument("--lakehouse", help="lakehouse folder or URI (config: lakehouse)")
    return p


def load(args: argparse.Namespace, flags: dict[str, str | None]) -> Config:
    """The validated config: defaults, then ``--conf``, then the command's flags (None: not given), then ``--set``."""
    return load_config(args.conf, {**flags, **parse_overrides(args.set or [])})


def session(cfg: Config, app: str) -> SparkSession:
    """The SparkSession of a command, on the configured master with the configured Spark settings."""
    return build_session(app, cfg.spark.master, extra_conf=cfg.spark.conf)
