"""``python -m benchmarks [--only NAME[,NAME]] [--quick] [--output PATH]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import BENCHMARKS, DEFAULT_OUTPUT, results_table, run_benchmarks, write_results
from ._common import BenchResult


def _names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown or not names:
        choices = ", ".join(BENCHMARKS)
        raise argparse.ArgumentTypeError(
            f"unknown benchmark {', '.join(unknown) or value!r}; choose from {choices}"
        )
    return names


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table, write the JSON; exit 1 when a target was missed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        type=_names,
        default=list(BENCHMARKS),
        metavar="NAME[,NAME]",
        help=f"run only these ({', '.join(BENCHMARKS)})",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a fast check")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON results"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    args = parser.parse_args(argv)

    def progress(result: BenchResult) -> None:
        state = f"not run ({result.skipped})" if result.skipped else "done"
        print(f"[{result.name}] {state} in {result.seconds:.1f} s", file=sys.stderr, flush=True)

    results = run_benchmarks(args.only, quick=args.quick, on_result=progress)
    print(results_table(results).to_markdown(index=False))
    for result in results:
        for note in result.notes:
            print(f"- {result.name}: {note}")
    path = write_results(results, args.output)
    print(f"\nresults written to {path}", file=sys.stderr)
    missed = [metric for result in results for metric in result.missed]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
