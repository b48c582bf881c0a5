"""Dagster's catalog: the notebook's tables show their columns, constraints, name and rows."""

from pathlib import Path

import dagster as dg

from bamboo_assets.definitions import defs
from bamboo_assets.resources.warehouse import PostgresWarehouse
from bamboo_assets_tests.helpers import local_resources, materialize_days, query


def definition_metadata(asset: str) -> dict:
    return dict(defs.resolve_asset_graph().get(dg.AssetKey(asset)).metadata)


def test_the_notebooks_tables_declare_their_columns_constraints_and_names() -> None:
    solutions = definition_metadata("solutions_table")
    assert solutions["dagster/table_name"] == "public.solutions"
    schema = solutions["dagster/column_schema"]
    columns = {column.name: column for column in schema.columns}
    assert list(columns) == [
        "id",
        "user_id",
        "oauth_consumer_key",
        "lis_result_sourcedid",
        "lis_outcome_service_url",
        "is_correct",
        "attempt_type",
        "created_at",
    ]
    assert all(column.description for column in columns.values())
    assert columns["created_at"].type == "timestamp"
    assert not columns["user_id"].constraints.nullable
    assert columns["attempt_type"].constraints.other == ["attempt_type in ('run', 'submit')"]
    assert columns["is_correct"].constraints.other == ["is_correct in (0, 1) OR is_correct is NULL"]
    assert any("UNIQUE (user_id, created_at)" in rule for rule in schema.constraints.other)

    metrics = definition_metadata("daily_metrics")
    assert metrics["dagster/table_name"] == "public.daily_metrics"
    metric_columns = {c.name: c for c in metrics["dagster/column_schema"].columns}
    assert list(metric_columns)[:5] == [
        "study_date",
        "attempts_per_day_total",
        "correct_attempts_per_day",
        "unique_users_per_day",
        "new_users_per_day",
    ]
    assert metric_columns["study_date"].constraints.unique


def test_each_materialization_reports_the_tables_row_count_and_a_table_preview(
    bamboo_home: Path, warehouse: PostgresWarehouse, database_dsn: str
) -> None:
    resources = local_resources(bamboo_home, warehouse, records_per_day=60)
    assert materialize_days("2025-03-02", "2025-03-02", resources).success
    # The range: 03-01 is new, 03-02 again; the table's rows, not the rows inserted, count.
    result = materialize_days("2025-03-01", "2025-03-02", resources)
    assert result.success
    [(solutions,)] = query(database_dsn, "SELECT count(*) FROM public.solutions")
    [(days,)] = query(database_dsn, "SELECT count(*) FROM public.daily_metrics")
    # One materialization per day of the range, each with the table's row count.
    loaded, *_ = loads = result.asset_materializations_for_node("solutions_table")
    measures = result.asset_materializations_for_node("daily_metrics")
    assert {m.metadata["dagster/row_count"].value for m in loads} == {solutions}
    assert {m.metadata["dagster/row_count"].value for m in measures} == {days}
    assert (len(loads), days) == (2, 2) and solutions > 0
    preview = loaded.metadata["preview"].value
    assert isinstance(preview, dg.TableMetadataValue) and len(preview.records) == 5
    assert [column.name for column in preview.schema.columns] == [
        "user_id",
        "attempt_type",
        "is_correct",
        "created_at",
    ]
