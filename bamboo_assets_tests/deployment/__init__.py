"""The compose deployment (deploy/compose/) built and run for real on a Docker engine: a day of
`daily_attempts` through the UI, the login and TLS in front of it, an upgrade, bad settings.
Skipped without Docker, a failure instead with BAMBOO_REQUIRE_DOCKER=1 (CI)."""
