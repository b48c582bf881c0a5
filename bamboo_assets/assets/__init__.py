"""Dagster's side of the pipeline: one module per asset (its spec, its checks and its step),
and `pipeline.py`, which runs the selected ones over a day or a range as one step."""
