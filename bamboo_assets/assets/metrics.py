"""`public.solutions` → `public.daily_metrics`: the notebook's four metrics per study day."""

from datetime import date

import dagster as dg

from bamboo_assets import catalog, checks, sql
from bamboo_assets.assets import run_days
from bamboo_assets.assets.common import daily_asset, metadata_table
from bamboo_assets.assets.ingest import solutions_table
from bamboo_assets.resources.warehouse import Warehouse


def refresh_metrics(conn, days: list[date]) -> tuple[list[date], dict[date, tuple]]:
    """Recompute the metrics of the study days a load touched, and the new users of the later
    days it changed; returns the days recomputed and the rows that changed.

    A touched day is read through the `created_at` BRIN index, its new users through
    `bamboo.user_first_day`, so a daily run costs the same with a year of history as with a
    day. The first run on a table the notebook already filled measures the days it found.
    """
    touched = set(days)
    touched.update(row[0] for row in conn.execute(sql.VALIDATED_DAYS, (days,)))
    touched.update(row[0] for row in conn.execute(sql.UNMEASURED_DAYS))
    changed: dict[date, tuple | None] = {}
    for day in sorted(touched):
        before = conn.execute(sql.STORED_DAY_METRICS, (day,)).fetchone()
        after = conn.execute(sql.DAY_METRICS, {"day": day}).fetchone()
        if after[0] == 0:
            conn.execute(sql.DELETE_METRICS, (day,))
            after = None
        else:
            conn.execute(sql.UPSERT_METRICS, (day, *after))
        if before != after:
            changed[day] = after
    for day, new_users in conn.execute(sql.NEW_USERS_CHANGED, {"after": min(touched)}).fetchall():
        conn.execute(sql.SET_NEW_USERS, (new_users, day))
        changed[day] = conn.execute(sql.STORED_DAY_METRICS, (day,)).fetchone()
    return sorted(touched | set(changed)), changed


@daily_asset(
    kinds={"postgres"},
    deps=[solutions_table],
    check_specs=[checks.METRICS_RECONCILE],
    metadata=catalog.DAILY_METRICS,
)
def daily_metrics(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """The notebook's metrics per study day in `public.daily_metrics`: `attempts_per_day_total`,
    `correct_attempts_per_day`, `unique_users_per_day`, `new_users_per_day`.

    A user's first day can move earlier when an earlier day is backfilled, so loading a day
    also recomputes the later days whose `new_users_per_day` it changed: the result equals
    the notebook's query over the whole table, whatever order days are loaded in.
    """
    with warehouse.connect() as conn:
        days, earlier = run_days.remaining(context, conn)
        with conn.transaction():
            conn.execute(sql.LOCK, (sql.LOCK_METRICS, 0))
            recomputed, changed = refresh_metrics(conn, days)
            reconciled = checks.metrics_match(conn, recomputed)
            (rows,) = conn.execute(sql.METRICS_ROWS).fetchone()
    run_days.conclude(context, earlier)
    later = [day for day in changed if day > days[-1]]
    if later:
        context.log.info(f"new_users_per_day changed on later days: {later}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "days_recomputed": len(recomputed),
            "days_changed": dg.MetadataValue.json([str(day) for day in changed]),
            "later_days_changed": dg.MetadataValue.json([str(day) for day in later]),
            "changed_rows": metadata_table(
                sql.METRIC_COLUMNS,
                [[day, *values] for day, values in changed.items() if values is not None],
            ),
        },
        check_results=[reconciled],
    )
