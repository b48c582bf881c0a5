"""The pipeline's assets, in lineage order."""

from bamboo_assets.assets.dashboard import dashboard_sheet
from bamboo_assets.assets.digest import digest_email
from bamboo_assets.assets.ingest import raw_attempts, solutions_table, validated_attempts
from bamboo_assets.assets.metrics import daily_metrics

PIPELINE = [
    raw_attempts,
    validated_attempts,
    solutions_table,
    daily_metrics,
    dashboard_sheet,
    digest_email,
]
