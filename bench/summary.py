"""Print one Markdown table of every recorded benchmark result (for the README).

Reads ``bench/results/*.json`` as the benchmarks wrote them; run ``python -m bench.summary``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

RESULTS = Path(__file__).resolve().parent / "results"


def _num(value: float, unit: str) -> str:
    return f"{value:,.2f}" if unit == "ms" else f"{value:,.0f}"


def main() -> int:
    """Print the table of every results file, in file-name order."""
    print("| benchmark | case | backend | subject | baseline | ratio | target | commit |")
    print("|---|---|---|---|---|---|---|---|")
    for path in sorted(RESULTS.glob("*.json")):
        doc = orjson.loads(path.read_bytes())
        for row in doc["rows"]:
            unit = row.get("unit", "")
            spread = f"min {_num(row['min'], unit)}, max {_num(row['max'], unit)}"
            print(
                f"| {doc['benchmark']} ({doc['events']:,} events) | {row['case']} | {row['backend']} "
                f"| {_num(row['subject'], unit)} {unit} ({spread}) "
                f"| {row['baseline_name']}: {_num(row['baseline'], unit)} "
                f"| {row['ratio']:.2f} | {row.get('target', '')} | {doc['commit'][:7]} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
