"""What every asset shares: day partitions, single-run backfills, one group, metadata tables."""

from collections.abc import Sequence
from datetime import datetime
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


def metadata_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> dg.MetadataValue:
    """A small table for the asset page, rendered by Dagster (`MetadataValue.table`)."""

    def cell(value: object) -> str | int | float | bool | None:
        if value is None or isinstance(value, str | int | float | bool):
            return value
        return value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)

    return dg.MetadataValue.table(
        records=[dg.TableRecord(dict(zip(header, map(cell, row), strict=True))) for row in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(name) for name in header]),
    )
