"""Bamboo: the daily learner-attempts ETL as Dagster assets (see definitions.py)."""
