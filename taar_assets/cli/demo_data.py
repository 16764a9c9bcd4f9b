"""`taar-assets demo-data`: write a synthetic clients_daily dataset and print where it went."""

from __future__ import annotations

import argparse
import datetime as dt

from taar_assets.demo.generator import write_demo_dataset
from taar_assets.demo.spec import DemoSpec, _validate


def _parser() -> argparse.ArgumentParser:
    defaults = DemoSpec()
    parser = argparse.ArgumentParser(
        prog="taar-assets demo-data", description="Write a synthetic clients_daily dataset."
    )
    # Every option's help ends with its default.
    parser.add_argument(
        "--clients", type=int, default=defaults.clients, help="number of clients (default: %(default)s)"
    )
    parser.add_argument(
        "--days", type=int, default=defaults.days, help="number of day folders (default: %(default)s)"
    )
    parser.add_argument(
        "--end-date", type=dt.date.fromisoformat, default=None, help="last day, YYYY-MM-DD (default: yesterday UTC)"
    )
    parser.add_argument(
        "--groups", type=int, default=defaults.groups, help="planted taste groups (default: %(default)s)"
    )
    parser.add_argument(
        "--whitelist-size",
        type=int,
        default=defaults.whitelist_size,
        help="whitelisted add-ons (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--daily-activity", type=float, default=None,
        help="at least this share of each client's days have a row, e.g. 0.5 for about 30 rows per client "
        "in a 90-day window (default: a sparser mix, about 6)",
    )
    parser.add_argument("--out", default="data/demo", help="output folder (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line: write a demo dataset and print where it went."""
    parser = _parser()
    args = parser.parse_args(argv)
    spec = DemoSpec(
        clients=args.clients,
        days=args.days,
        end_date=args.end_date,
        groups=args.groups,
        whitelist_size=args.whitelist_size,
        seed=args.seed,
        daily_activity=args.daily_activity,
    )
    try:
        _validate(spec)
    except ValueError as error:
        parser.error(str(error))
    summary = write_demo_dataset(args.out, spec)
    print(f"clients_daily: {summary.clients_daily} ({summary.rows} rows, "
          f"{summary.days[0]:%Y-%m-%d} .. {summary.days[-1]:%Y-%m-%d})")
    print(f"whitelist:     {summary.whitelist}")
    print(f"groups:        {summary.groups}")
    print(f"add-on metadata: {summary.addon_metadata}")
    print(f"profiles:      {summary.profiles}")
    return 0
