"""Advisory-lock namespaces: (namespace, key) pairs that serialize runs touching the same thing.

Two runs of the same day take turns at each step; the schema is migrated by one run at a time;
the dashboard is rewritten by one run at a time.
"""

SCHEMA = 0  # key 0: the schema itself (warehouse/schema.py)
STAGING = 1  # key: the day's ordinal; held while a day's staging is replaced or read
SOLUTIONS = 2  # key: the day's ordinal; held while a day is loaded
METRICS = 3  # key 0: the metrics table
DASHBOARD = 4  # key 0: the dashboard

TAKE = "SELECT pg_advisory_xact_lock(%(namespace)s, %(key)s)"
TAKE_DAYS = (
    "SELECT pg_advisory_xact_lock(%(namespace)s, day) FROM unnest(%(days)s::int[]) day ORDER BY day"
)
