"""Staging partitions made before Bamboo 0.1.0 made them UNLOGGED become so.

Their rows are rebuilt from the stored answer at will, so they need no WAL; 0.1.0 set this on
every validation of a day, which from now on is done once, here.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        """
        DO $$
        DECLARE staging regclass;
        BEGIN
            FOR staging IN
                SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'bamboo.validated_attempts'::regclass
                  AND c.relpersistence = 'p'
            LOOP
                EXECUTE format('ALTER TABLE %s SET UNLOGGED', staging);
            END LOOP;
        END $$
        """
    )
