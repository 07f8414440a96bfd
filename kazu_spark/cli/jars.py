"""``kazu-spark setup``: fetch the Delta Lake jars once, through Spark's Ivy, into the user cache.

The only step that needs the network; the cache's place is :func:`kazu_spark.runtime.session.jars_dir`.
"""

from __future__ import annotations

import argparse

from kazu_spark.runtime.session import fetch_delta_jars


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``setup`` (no flags)."""
    p.set_defaults(func=cmd_setup)


def cmd_setup(args: argparse.Namespace) -> None:
    """Fetch and cache the Delta jars."""
    for path in fetch_delta_jars():
        print(f"cached {path}")
