"""Bamboo's performance benchmarks: one module per figure, `python -m benchmarks` runs all.

Run from the repository root (the fake servers live in `bamboo_assets_tests/servers`).
See benchmarks/README.md for what each figure measures and its target.
"""

import warnings

# Imported before any figure: keep their output to tables, not to Dagster's beta notices or
# platformdirs' complaint that XDG_RUNTIME_DIR is unset.
warnings.filterwarnings("ignore", message=".*is currently in beta.*")
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
