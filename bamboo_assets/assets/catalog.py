"""What Dagster's catalog shows of the notebook's two tables: columns, constraints, names.

Declared as definition metadata (`dagster/column_schema`, `dagster/table_name`), so the
asset page's Columns tab is filled before any run; each materialization adds
`dagster/row_count`. The constraints are the notebook's CHECKs and UNIQUE (schema revision
0001); tests compare all of this with a migrated database's `information_schema`.
"""

from __future__ import annotations

import dagster as dg

_REQUIRED = dg.TableColumnConstraints(nullable=False)

SOLUTIONS = {
    "dagster/table_name": "public.solutions",
    "dagster/column_schema": dg.TableSchema(
        columns=[
            dg.TableColumn(
                "id", "bigint", "Identity, in insert order.", dg.TableColumnConstraints(False, True)
            ),
            dg.TableColumn("user_id", "text", "The learner (the API's lti_user_id).", _REQUIRED),
            dg.TableColumn("oauth_consumer_key", "text", "From passback_params; often empty."),
            dg.TableColumn("lis_result_sourcedid", "text", "The task, from passback_params."),
            dg.TableColumn("lis_outcome_service_url", "text", "Grade URL, from passback_params."),
            dg.TableColumn(
                "is_correct",
                "int",
                "1 or 0 for a submit, NULL for a run.",
                dg.TableColumnConstraints(other=["is_correct in (0, 1) OR is_correct is NULL"]),
            ),
            dg.TableColumn(
                "attempt_type",
                "text",
                "`run` (code executed) or `submit` (answer checked).",
                dg.TableColumnConstraints(False, other=["attempt_type in ('run', 'submit')"]),
            ),
            dg.TableColumn(
                "created_at",
                "timestamp",
                "When the attempt was made, in BAMBOO_TIMEZONE, without a zone.",
                _REQUIRED,
            ),
        ],
        constraints=dg.TableConstraints(
            other=["unique_check: UNIQUE (user_id, created_at); the first in an answer wins"]
        ),
    ),
}

DAILY_METRICS = {
    "dagster/table_name": "public.daily_metrics",
    "dagster/column_schema": dg.TableSchema(
        columns=[
            dg.TableColumn(
                "study_date",
                "date",
                "The day (primary key).",
                dg.TableColumnConstraints(False, True),
            ),
            dg.TableColumn("attempts_per_day_total", "int", "Attempts of the day.", _REQUIRED),
            dg.TableColumn(
                "correct_attempts_per_day", "int", "Attempts with is_correct = 1.", _REQUIRED
            ),
            dg.TableColumn(
                "unique_users_per_day", "int", "Learners with an attempt that day.", _REQUIRED
            ),
            dg.TableColumn(
                "new_users_per_day",
                "int",
                "Learners whose first attempt ever was that day.",
                _REQUIRED,
            ),
            dg.TableColumn(
                "computed_at", "timestamptz", "When Bamboo last wrote the row.", _REQUIRED
            ),
        ]
    ),
}
