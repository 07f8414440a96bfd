"""``kazu-spark maintain``: compact (OPTIMIZE) and VACUUM every lakehouse table."""

from __future__ import annotations

import argparse

from kazu_spark.cli.common import load, session, with_conf
from kazu_spark.errors import ConfigError
from kazu_spark.lakehouse.maintain import check_retention, maintain


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``maintain``'s flags."""
    with_conf(p)
    p.add_argument("--retention-hours", type=float, default=168.0, help="VACUUM retention, >= 168 unless allowed")
    p.add_argument(
        "--allow-short-retention", action="store_true", help="allow < 168 h (breaks older readers and time travel)"
    )
    p.set_defaults(func=cmd_maintain)


def cmd_maintain(args: argparse.Namespace) -> None:
    """Compact and vacuum every table; print file counts per table."""
    cfg = load(args, {"lakehouse": args.lakehouse})
    try:
        check_retention(args.retention_hours, args.allow_short_retention)
    except ValueError as exc:
        raise ConfigError(str(exc).replace("allow_short_retention", "--allow-short-retention")) from None
    spark = session(cfg, "kazu-spark-maintain")
    report = maintain(spark, cfg.lakehouse, args.retention_hours, allow_short_retention=args.allow_short_retention)
    for table, files in report.items():
        print(f"{table}: {files['files_before']:,} -> {files['files_after']:,} data files")
