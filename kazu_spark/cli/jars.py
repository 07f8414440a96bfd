"""``kazu-spark setup``: fetch the Delta Lake jars once (the only step that needs Maven Central)."""

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
