"""The outside systems' clients as Dagster resources: the statistics API, the raw-answer store,
mail, and the HTTP retry policy the API and the Sheets client share. Which implementation each
deployment gets is decided in bamboo_assets/systems.py."""
