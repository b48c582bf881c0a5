"""`python -m benchmarks`: every figure, shortest first, then all tables together.

Each figure prints its table as soon as it is done, so a long run still shows results early;
the tables are printed again at the end so one paste holds them all.
"""

from __future__ import annotations

import time

from benchmarks import (
    backfill_parallel,
    dashboard_requests,
    ingest,
    metrics_scaling,
    range_backfill,
)
from benchmarks.common import progress

FIGURES = (dashboard_requests, metrics_scaling, backfill_parallel, ingest, range_backfill)


def main() -> None:
    began = time.perf_counter()
    tables: list[str] = []
    for figure in FIGURES:
        started = time.perf_counter()
        tables.append(figure.main())
        progress(f"{figure.__name__}: {time.perf_counter() - started:.0f}s\n")
    print("\n# All figures\n")
    print("\n\n".join(tables))
    print(f"\n(total {time.perf_counter() - began:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
