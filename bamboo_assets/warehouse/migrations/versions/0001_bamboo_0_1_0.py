"""The schema of Bamboo 0.1.0.

Every statement creates only what is missing, so this revision applies to an empty database,
to one where the notebook created `public.solutions` (whose definition it keeps exactly), and
to a database Bamboo 0.1.0 filled, which it leaves as it was.

Revision ID: 0001
"""

from alembic import op

revision = "0001"
down_revision = None

STATEMENTS = [
    "CREATE SCHEMA IF NOT EXISTS bamboo",
    # The notebook's table, its CHECKs and unique_check, unchanged.
    """
    CREATE TABLE IF NOT EXISTS public.solutions (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
        , user_id TEXT NOT NULL
        , oauth_consumer_key TEXT
        , lis_result_sourcedid TEXT
        , lis_outcome_service_url TEXT
        , is_correct INT CHECK (is_correct in (0, 1) OR is_correct is NULL)
        , attempt_type TEXT CHECK (attempt_type in ('run', 'submit')) NOT NULL
        , created_at TIMESTAMP NOT NULL
        , CONSTRAINT unique_check UNIQUE (user_id, created_at)
    )
    """,
    # One day's metrics read one day's rows: BRIN costs next to nothing on insert.
    "CREATE INDEX IF NOT EXISTS solutions_created_at_brin"
    " ON public.solutions USING brin (created_at)",
    """
    CREATE TABLE IF NOT EXISTS public.daily_metrics (
        study_date DATE PRIMARY KEY
        , attempts_per_day_total INT NOT NULL
        , correct_attempts_per_day INT NOT NULL
        , unique_users_per_day INT NOT NULL
        , new_users_per_day INT NOT NULL
        , computed_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS bamboo.validated_attempts (
        day DATE NOT NULL
        , position INT NOT NULL
        , user_id TEXT NOT NULL
        , oauth_consumer_key TEXT
        , lis_result_sourcedid TEXT
        , lis_outcome_service_url TEXT
        , is_correct INT
        , attempt_type TEXT NOT NULL
        , created_at TIMESTAMP NOT NULL
    ) PARTITION BY LIST (day)
    """,
    """
    CREATE TABLE IF NOT EXISTS bamboo.rejected_attempts (
        day DATE NOT NULL
        , position INT NOT NULL
        , reason TEXT NOT NULL
        , record TEXT NOT NULL
        , PRIMARY KEY (day, position)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS bamboo.user_first_day (
        user_id TEXT PRIMARY KEY
        , first_day DATE NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS user_first_day_by_day ON bamboo.user_first_day (first_day)",
    """
    CREATE TABLE IF NOT EXISTS bamboo.validated_first_days (
        day DATE NOT NULL
        , user_id TEXT NOT NULL
        , first_day DATE NOT NULL
        , PRIMARY KEY (day, user_id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS bamboo.day_loads (
        day DATE PRIMARY KEY
        , extracted INT NOT NULL
        , validated INT NOT NULL
        , rejected INT NOT NULL
        , unreadable_passback INT NOT NULL
        , prepared INT
        , inserted INT
        , validated_at TIMESTAMPTZ NOT NULL
        , loaded_at TIMESTAMPTZ
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS bamboo.day_failures (
        run_id TEXT NOT NULL
        , day DATE NOT NULL
        , step TEXT NOT NULL
        , reason TEXT NOT NULL
        , failed_at TIMESTAMPTZ NOT NULL DEFAULT now()
        , PRIMARY KEY (run_id, day)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS bamboo.refetched_days (
        run_id TEXT NOT NULL
        , day DATE NOT NULL
        , new_records INT NOT NULL
        , gone_records INT NOT NULL
        , PRIMARY KEY (run_id, day)
    )
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
