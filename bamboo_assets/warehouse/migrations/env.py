"""Alembic's entry point: migrations run on the connection `schema.upgrade` hands over."""

from alembic import context

from bamboo_assets.warehouse.schema import VERSION_SCHEMA

context.configure(
    connection=context.config.attributes["connection"],
    version_table_schema=VERSION_SCHEMA,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.execute(f"CREATE SCHEMA IF NOT EXISTS {VERSION_SCHEMA}")
    context.run_migrations()
