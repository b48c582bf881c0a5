#!/bin/sh
# Run once by the postgres image on an empty data volume: the warehouse's own user and a UTF8
# database, next to Dagster's instance database (POSTGRES_DB, owned by POSTGRES_USER).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v user="$BAMBOO_WAREHOUSE_USER" -v password="$BAMBOO_WAREHOUSE_PASSWORD" \
    -v db="$BAMBOO_WAREHOUSE_DB" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user" ENCODING 'UTF8' TEMPLATE template0;
SQL
