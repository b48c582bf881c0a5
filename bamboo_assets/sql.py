"""All SQL text, composed with `psycopg.sql` identifiers and parameters only.

Tables:
- `public.solutions` — the notebook's table, unchanged (columns, CHECKs, `unique_check`), plus a
  BRIN index on `created_at` so one day's metrics read one day, not the whole table. Each day
  is appended as one block of rows, which is what BRIN needs; unlike a B-tree it costs next
  to nothing on insert (a B-tree on `created_at` added ~35 % to a million-row load).
- `public.daily_metrics` — one row per study day: the notebook's metrics, kept up to date.
- `bamboo.validated_attempts` — valid rows of each day-partition, list-partitioned by `day` so a
  re-run replaces a day with a TRUNCATE instead of a million-row DELETE. Each partition is
  UNLOGGED: its rows are rebuilt from the stored answer at will, so they need no WAL; after a
  crash PostgreSQL empties it, and the load refuses a day whose staged rows no longer match the
  count validation recorded in `bamboo.day_loads`.
- `bamboo.rejected_attempts` — every rejected record, exactly as received, with its reason.
- `bamboo.user_first_day` — each user's first study day, kept with every load, so "new users
  per day" is an index count rather than a probe per user into `public.solutions`;
  `bamboo.validated_first_days` holds each day-partition's contribution to it.
- `bamboo.day_loads` — the notebook's counts per day-partition, which the digest reports.
- `bamboo.day_failures` — each day a run could not load, the step and the reason: later steps
  of the run pass over these days, and the digest and the run's failure name them.
- `bamboo.refetched_days` — for each day a run fetched again, how many records are new since
  the previous fetch and how many the API no longer returns (for the digest).
"""

from __future__ import annotations

from datetime import date

from psycopg import sql

# Each relation Bamboo needs, with the statement that creates it. Connecting creates only what
# the catalog lacks: `CREATE INDEX IF NOT EXISTS` takes a SHARE lock on public.solutions even
# when the index exists, and would wait behind any run that is loading.
CREATE_SCHEMA = "CREATE SCHEMA IF NOT EXISTS bamboo"
RELATIONS: list[tuple[str, str]] = [
    (
        "public.solutions",
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
    ),
    (
        "public.solutions_created_at_brin",
        "CREATE INDEX IF NOT EXISTS solutions_created_at_brin"
        " ON public.solutions USING brin (created_at)",
    ),
    (
        "public.daily_metrics",
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
    ),
    (
        "bamboo.validated_attempts",
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
    ),
    (
        "bamboo.rejected_attempts",
        """
        CREATE TABLE IF NOT EXISTS bamboo.rejected_attempts (
            day DATE NOT NULL
            , position INT NOT NULL
            , reason TEXT NOT NULL
            , record TEXT NOT NULL
            , PRIMARY KEY (day, position)
        )
        """,
    ),
    (
        "bamboo.user_first_day",
        """
        CREATE TABLE IF NOT EXISTS bamboo.user_first_day (
            user_id TEXT PRIMARY KEY
            , first_day DATE NOT NULL
        )
        """,
    ),
    (
        "bamboo.user_first_day_by_day",
        "CREATE INDEX IF NOT EXISTS user_first_day_by_day ON bamboo.user_first_day (first_day)",
    ),
    (
        "bamboo.validated_first_days",
        """
        CREATE TABLE IF NOT EXISTS bamboo.validated_first_days (
            day DATE NOT NULL
            , user_id TEXT NOT NULL
            , first_day DATE NOT NULL
            , PRIMARY KEY (day, user_id)
        )
        """,
    ),
    (
        "bamboo.day_loads",
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
    ),
    (
        "bamboo.day_failures",
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
    ),
    (
        "bamboo.refetched_days",
        """
        CREATE TABLE IF NOT EXISTS bamboo.refetched_days (
            run_id TEXT NOT NULL
            , day DATE NOT NULL
            , new_records INT NOT NULL
            , gone_records INT NOT NULL
            , PRIMARY KEY (run_id, day)
        )
        """,
    ),
]
MISSING_RELATIONS = "SELECT name FROM unnest(%s::text[]) name WHERE to_regclass(name) IS NULL"

# Filled once from a table the notebook (or anything else) already filled; a one-time filter,
# so it costs nothing once the table has rows.
FILL_USER_FIRST_DAY = """
INSERT INTO bamboo.user_first_day (user_id, first_day)
SELECT user_id, min(created_at)::date FROM public.solutions
WHERE NOT EXISTS (SELECT 1 FROM bamboo.user_first_day)
GROUP BY user_id
"""

METRIC_COLUMNS = (
    "study_date",
    "attempts_per_day_total",
    "correct_attempts_per_day",
    "unique_users_per_day",
    "new_users_per_day",
)

# Advisory-lock namespaces: one lock per (step, day) serializes runs of the same partition.
LOCK_SCHEMA = 0
LOCK_VALIDATED = 1
LOCK_SOLUTIONS = 2
LOCK_METRICS = 3
LOCK = "SELECT pg_advisory_xact_lock(%s, %s)"


def day_partition(day: date) -> sql.Identifier:
    return sql.Identifier("bamboo", f"validated_attempts_{day:%Y%m%d}")


def create_day_partition(day: date) -> sql.Composed:
    return sql.SQL(
        "CREATE UNLOGGED TABLE IF NOT EXISTS {} "
        "PARTITION OF bamboo.validated_attempts FOR VALUES IN ({})"
    ).format(day_partition(day), sql.Literal(day))


def truncate_day_partition(day: date) -> sql.Composed:
    return sql.SQL("TRUNCATE {}").format(day_partition(day))


def unlog_day_partition(day: date) -> sql.Composed:
    """A partition made before partitions were UNLOGGED becomes so (empty: nothing to copy);
    for an unlogged one this does nothing."""
    return sql.SQL("ALTER TABLE {} SET UNLOGGED").format(day_partition(day))


def copy_into_day_partition(day: date) -> sql.Composed:
    """FREEZE: the partition was truncated in the same transaction, so its rows are written
    already frozen and the first read does not rewrite every page to set hint bits."""
    return sql.SQL("COPY {} FROM STDIN (FREEZE)").format(day_partition(day))


REJECTED_SAMPLE = """
SELECT day, position, reason, left(record, 200) FROM bamboo.rejected_attempts
WHERE day = ANY(%s) ORDER BY day, position LIMIT 5
"""
# Each user's first study day among a day-partition's valid rows, found while validating (a
# GROUP BY over a million staged rows would cost more than the whole validation pass does).
DELETE_FIRST_DAYS = "DELETE FROM bamboo.validated_first_days WHERE day = %s"
COPY_FIRST_DAYS = "COPY bamboo.validated_first_days (day, user_id, first_day) FROM STDIN"
DELETE_REJECTED = "DELETE FROM bamboo.rejected_attempts WHERE day = %s"
COPY_REJECTED = "COPY bamboo.rejected_attempts (day, position, reason, record) FROM STDIN"

RECORD_VALIDATED = """
INSERT INTO bamboo.day_loads
    (day, extracted, validated, rejected, unreadable_passback, validated_at)
VALUES (%s, %s, %s, %s, %s, now())
ON CONFLICT (day) DO UPDATE SET
    extracted = EXCLUDED.extracted, validated = EXCLUDED.validated,
    rejected = EXCLUDED.rejected, unreadable_passback = EXCLUDED.unreadable_passback,
    validated_at = EXCLUDED.validated_at, prepared = NULL, inserted = NULL, loaded_at = NULL
"""

# What a day-partition's staging holds against what validation counted (NULL: the day was
# never validated), and the range of its created_at. An UNLOGGED partition is empty after a
# crash: a mismatch means the staged rows are not the validated day.
STAGED_DAY = """
SELECT (SELECT validated FROM bamboo.day_loads WHERE day = %(day)s), count(*),
    min(created_at), max(created_at)
FROM bamboo.validated_attempts WHERE day = %(day)s
"""
# One loader at a time may decide that no row can conflict: the check and the insert hold a
# lock that other loads (and any writer) wait for; readers do not.
LOCK_SOLUTIONS_TABLE = "LOCK TABLE public.solutions IN SHARE ROW EXCLUSIVE MODE"
# Whether any row of public.solutions lies in a created_at range, through the BRIN index: a
# planner misled by stale statistics would otherwise read the whole table to find none.
CONFLICT_PROBE_BEGIN = "SET LOCAL enable_seqscan = off"
CONFLICT_PROBE = """
SELECT EXISTS (SELECT FROM public.solutions WHERE created_at BETWEEN %s AND %s)
"""
CONFLICT_PROBE_END = "RESET enable_seqscan"

# The day's rows reach the unique index in its order, and each (user_id, created_at) is
# offered once: the first in the answer wins, as in the notebook. The sort compares user_id
# bytewise (COLLATE "C": memcmp and abbreviated keys instead of strcoll); equality is the
# same under any deterministic collation, and for C and C.UTF-8 databases so is the order.
_SOLUTION_COLUMNS = sql.SQL(", ").join(
    map(
        sql.Identifier,
        (
            "user_id",
            "oauth_consumer_key",
            "lis_result_sourcedid",
            "lis_outcome_service_url",
            "is_correct",
            "attempt_type",
            "created_at",
        ),
    )
)
_FIRST_OF_EACH_KEY = sql.SQL("""
SELECT DISTINCT ON (user_id COLLATE "C", created_at) {columns}
FROM bamboo.validated_attempts WHERE day = {day}
ORDER BY user_id COLLATE "C", created_at, position
""")
# Reloads (the day as its one parameter): the rows already present are skipped.
INSERT_SOLUTIONS = sql.SQL(
    "INSERT INTO public.solutions ({}) {} ON CONFLICT (user_id, created_at) DO NOTHING"
).format(
    _SOLUTION_COLUMNS, _FIRST_OF_EACH_KEY.format(columns=_SOLUTION_COLUMNS, day=sql.Placeholder())
)


# A day no existing row can conflict with: its rows leave PostgreSQL sorted on one connection
# and come back by COPY on the loading one, which writes a page of rows per WAL record (an
# INSERT writes one per row) and skips ON CONFLICT's speculative insertion; the unique index
# still refuses a duplicate.
def copy_new_solutions_out(day: date) -> sql.Composed:
    return sql.SQL("COPY ({}) TO STDOUT").format(
        _FIRST_OF_EACH_KEY.format(columns=_SOLUTION_COLUMNS, day=sql.Literal(day))
    )


COPY_INTO_SOLUTIONS = sql.SQL("COPY public.solutions ({}) FROM STDIN").format(_SOLUTION_COLUMNS)

# The sort before the insert fits in memory for a million-row day.
LOAD_WORK_MEM = "SET LOCAL work_mem = '256MB'"
# The catalog's row counts (`dagster/row_count`), exact.
SOLUTIONS_ROWS = "SELECT count(*) FROM public.solutions"
METRICS_ROWS = "SELECT count(*) FROM public.daily_metrics"
SOLUTIONS_PREVIEW = """
SELECT user_id, attempt_type, is_correct, created_at FROM public.solutions
WHERE created_at >= %s AND created_at < %s::date + 1 LIMIT 5
"""

# A user's first day only moves earlier. Rows go in user order, as in INSERT_SOLUTIONS, so
# concurrent loads of different days lock users in the same order.
RECORD_FIRST_DAYS = """
INSERT INTO bamboo.user_first_day AS known (user_id, first_day)
SELECT user_id, first_day FROM bamboo.validated_first_days WHERE day = %s ORDER BY user_id
ON CONFLICT (user_id) DO UPDATE SET first_day = EXCLUDED.first_day
WHERE EXCLUDED.first_day < known.first_day
"""

RECORD_LOADED = """
UPDATE bamboo.day_loads SET prepared = validated, inserted = %s, loaded_at = now()
WHERE day = %s
RETURNING prepared
"""

VALIDATED_DAYS = """
SELECT DISTINCT created_at::date FROM bamboo.validated_attempts WHERE day = ANY(%s)
"""

# Every study day already in public.solutions, but only while public.daily_metrics is empty:
# the first run on a table the notebook filled measures its history once (a one-time filter,
# so later runs do not scan).
UNMEASURED_DAYS = """
SELECT DISTINCT created_at::date FROM public.solutions
WHERE NOT EXISTS (SELECT 1 FROM public.daily_metrics)
"""

# Days after %(after)s whose stored new users no longer match the users' first days: a
# backfill of an earlier day moves some users' first day from them. Reads only the users first
# seen after %(after)s, so a daily run (nothing after it) reads nothing.
NEW_USERS_CHANGED = """
SELECT m.study_date, coalesce(f.users, 0) FROM public.daily_metrics m
LEFT JOIN (
    SELECT first_day, count(*) AS users FROM bamboo.user_first_day
    WHERE first_day > %(after)s GROUP BY first_day
) f ON f.first_day = m.study_date
WHERE m.study_date > %(after)s AND m.new_users_per_day <> coalesce(f.users, 0)
"""
SET_NEW_USERS = "UPDATE public.daily_metrics SET new_users_per_day = %s WHERE study_date = %s"

# One day's metrics with the notebook's definitions, reading only that day's rows (through
# the BRIN index) and that day's new users (through user_first_day_by_day).
DAY_METRICS = """
SELECT
    count(*) AS attempts_per_day_total,
    count(*) FILTER (WHERE is_correct = 1) AS correct_attempts_per_day,
    count(DISTINCT user_id) AS unique_users_per_day,
    (SELECT count(*) FROM bamboo.user_first_day WHERE first_day = %(day)s) AS new_users_per_day
FROM public.solutions
WHERE created_at >= %(day)s::date AND created_at < %(day)s::date + 1
"""

UPSERT_METRICS = """
INSERT INTO public.daily_metrics (study_date, attempts_per_day_total, correct_attempts_per_day,
    unique_users_per_day, new_users_per_day, computed_at)
VALUES (%s, %s, %s, %s, %s, now())
ON CONFLICT (study_date) DO UPDATE SET
    attempts_per_day_total = EXCLUDED.attempts_per_day_total,
    correct_attempts_per_day = EXCLUDED.correct_attempts_per_day,
    unique_users_per_day = EXCLUDED.unique_users_per_day,
    new_users_per_day = EXCLUDED.new_users_per_day,
    computed_at = EXCLUDED.computed_at
"""
STORED_DAY_METRICS = """
SELECT attempts_per_day_total, correct_attempts_per_day, unique_users_per_day, new_users_per_day
FROM public.daily_metrics WHERE study_date = %s
"""
DELETE_METRICS = "DELETE FROM public.daily_metrics WHERE study_date = %s"
ALL_METRICS = """
SELECT to_char(study_date, 'YYYY-MM-DD'), attempts_per_day_total, correct_attempts_per_day,
    unique_users_per_day, new_users_per_day
FROM public.daily_metrics ORDER BY study_date
"""
METRICS_OF_DAYS = """
SELECT to_char(study_date, 'YYYY-MM-DD'), attempts_per_day_total, correct_attempts_per_day,
    unique_users_per_day, new_users_per_day
FROM public.daily_metrics WHERE study_date = ANY(%s) ORDER BY study_date
"""

# The notebook's own metrics query over the whole table, kept verbatim in meaning: the
# reference that checks and tests compare Bamboo's incremental metrics with.
NOTEBOOK_METRICS = """
WITH first_seen AS (
    SELECT min(date(created_at)) AS study_date, user_id FROM public.solutions GROUP BY user_id
), new_users AS (
    SELECT study_date, count(user_id) AS new_users_cnt FROM first_seen GROUP BY study_date
), solutions_metrics AS (
    SELECT date(created_at) AS study_date, count(*) AS attempts_per_day_total,
        count(*) FILTER (WHERE is_correct = 1) AS correct_attempts_per_day,
        count(DISTINCT user_id) AS unique_users_per_day
    FROM public.solutions GROUP BY study_date
)
SELECT to_char(sm.study_date, 'yyyy-mm-dd') AS study_date, attempts_per_day_total,
    correct_attempts_per_day, unique_users_per_day, COALESCE(nu.new_users_cnt, 0)
FROM solutions_metrics sm LEFT JOIN new_users nu USING (study_date)
ORDER BY study_date
"""

DAY_LOADS = """
SELECT to_char(day, 'YYYY-MM-DD'), extracted, validated, rejected, unreadable_passback,
    prepared, inserted
FROM bamboo.day_loads WHERE day = ANY(%s) ORDER BY day
"""

# Days of a run that failed (keyed by the run's root, so a re-execution sees its own failures).
# A step first forgets the failures of the days it is about to process again.
RUN_FAILURES = """
SELECT day, step, reason FROM bamboo.day_failures WHERE run_id = %s ORDER BY day
"""
FORGET_FAILURES = "DELETE FROM bamboo.day_failures WHERE run_id = %s AND day = ANY(%s)"
RECORD_FAILURE = """
INSERT INTO bamboo.day_failures (run_id, day, step, reason) VALUES (%s, %s, %s, %s)
ON CONFLICT (run_id, day) DO UPDATE SET
    step = EXCLUDED.step, reason = EXCLUDED.reason, failed_at = now()
"""
RECORD_REFETCHED = """
INSERT INTO bamboo.refetched_days (run_id, day, new_records, gone_records) VALUES (%s, %s, %s, %s)
ON CONFLICT (run_id, day) DO UPDATE SET
    new_records = EXCLUDED.new_records, gone_records = EXCLUDED.gone_records
"""
# For the digest: the run's failed days and late records, one row per day.
DIGEST_FAILURES = """
SELECT to_char(day, 'YYYY-MM-DD'), step, reason FROM bamboo.day_failures
WHERE run_id = %s ORDER BY day
"""
DIGEST_REFETCHED = """
SELECT to_char(day, 'YYYY-MM-DD'), new_records, gone_records FROM bamboo.refetched_days
WHERE run_id = %s ORDER BY day
"""
# The volume check's history: records extracted on the days of the four weeks before.
EXTRACTED_BETWEEN = """
SELECT day, extracted FROM bamboo.day_loads WHERE day >= %s AND day <= %s
"""

# Checks (bamboo_assets/checks.py). A valid unique index on exactly (user_id, created_at)
# is what makes a duplicate impossible; this finds it.
UNIQUE_ATTEMPT_INDEX = """
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'public.solutions'::regclass AND i.indisunique AND i.indisvalid
  AND i.indpred IS NULL AND i.indexprs IS NULL
  AND ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            ORDER BY k.n) = ARRAY['user_id', 'created_at']
"""

# The notebook's definitions for some days, written unlike the incremental queries above.
RECOMPUTED_METRICS = """
WITH day_rows AS (
    SELECT user_id, is_correct, created_at::date AS study_date FROM public.solutions
    WHERE created_at >= %(first)s AND created_at < %(last)s::date + 1
), firsts AS (
    SELECT min(s.created_at)::date AS study_date, s.user_id
    FROM public.solutions s
    WHERE s.user_id IN (SELECT user_id FROM day_rows)
    GROUP BY s.user_id
)
SELECT to_char(d.study_date, 'YYYY-MM-DD'), count(*),
    count(*) FILTER (WHERE is_correct = 1), count(DISTINCT user_id),
    (SELECT count(*) FROM firsts f WHERE f.study_date = d.study_date)
FROM day_rows d
WHERE d.study_date = ANY(%(days)s)
GROUP BY d.study_date ORDER BY d.study_date
"""
