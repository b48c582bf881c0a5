"""What every asset shares: day partitions, single-run backfills, one group, metadata tables."""

from collections.abc import Sequence
from functools import partial

import dagster as dg

from bamboo_assets.partitions import daily_partitions

GROUP = "bamboo"

# A Bamboo asset: partitioned by day, a range of days as one run, in the one lineage group.
daily_asset = partial(
    dg.asset,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> dg.MetadataValue:
    """A small table for the asset page."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows
    ]
    return dg.MetadataValue.md("\n".join(lines))
