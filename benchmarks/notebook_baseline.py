"""The reference notebook's extract → transform → load of one download, to time against Bamboo.

Why a re-implementation: figure 1 compares Bamboo with what it replaces, so every step the
notebook takes is kept as it was: `requests.get(url, params, timeout=None)`; the double
parse, `r.json()` then `r.json(object_hook=hook)`; its `hook`, `string_to_dict`,
`validate_return_value` and `convert_to_datetime`, warnings included; the `None` filtering;
its `CREATE TABLE IF NOT EXISTS public.solutions (...)` (without Bamboo's extra
`solutions_created_at_brin`); the row-length check; and
`execute_values(..., page_size=1000, fetch=True)` with
`ON CONFLICT ON CONSTRAINT unique_check DO NOTHING RETURNING 1`. Every object the notebook
keeps in a global (the response, `first_row_data`, the structured list, the tuples) stays
alive to the end, as it does in a kernel.

Left out, in the notebook's favour: rendering the cell outputs (`first_row_data`,
`user_solutions_structured`), which in Jupyter prints a million records.

    python -m benchmarks.notebook_baseline --url URL --client-key KEY \
        --start '2025-03-04 00:00:00.000000' --end '2025-03-04 23:59:59.999999' \
        --dsn DSN --log-file PATH

prints the notebook's counts as one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
from datetime import datetime
from typing import Any

import psycopg2
import requests
from psycopg2 import sql
from psycopg2.extras import execute_values

# The notebook's table, character for character in meaning: no index on created_at.
CREATING_QUERY = """
    CREATE TABLE IF NOT EXISTS {} (
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
    """
COLUMNS_FOR_INSERTING = (
    "user_id",
    "oauth_consumer_key",
    "lis_result_sourcedid",
    "lis_outcome_service_url",
    "is_correct",
    "attempt_type",
    "created_at",
)


class DbOps:
    """The notebook's database helper: a new connection per operation."""

    def __init__(self, db_dsn: str) -> None:
        self.dsn = db_dsn

    def make_table(self, schema: str, table: str, creating_query: str) -> None:
        with psycopg2.connect(self.dsn) as conn, conn.cursor() as cur:
            ready_query = sql.SQL(creating_query).format(sql.Identifier(schema, table))
            cur.execute(ready_query)

    @staticmethod
    def make_sql_columns(columns: list | tuple) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(col) for col in columns)

    def insert_unique_data_to_table(
        self,
        schema: str,
        table: str,
        unique_constraint: str,
        columns: list | tuple,
        data: list | tuple,
    ) -> int:
        """The notebook's load: a length check per row, then pages of 1000 VALUES."""
        if not data:
            return 0
        needed_length = len(columns)
        for i, row in enumerate(data):
            if len(row) != needed_length:
                raise ValueError(
                    f"{i} row length is not the same as columns count in DB table ({needed_length})"
                )
        columns_sql = DbOps.make_sql_columns(columns)
        with psycopg2.connect(self.dsn) as conn, conn.cursor() as cur:
            query = sql.SQL(
                """
                INSERT INTO {} ({})
                VALUES %s
                ON CONFLICT ON CONSTRAINT {} DO NOTHING
                RETURNING 1
                """
            ).format(sql.Identifier(schema, table), columns_sql, sql.Identifier(unique_constraint))
            returned = execute_values(cur, query, data, page_size=1000, fetch=True)
            return len(returned)


def string_to_dict(string: str) -> dict:
    """The notebook's passback_params parser: `ast.literal_eval`, `{}` on any failure."""
    try:
        res = ast.literal_eval(string)
        if not isinstance(res, dict):
            logging.warning("Converted object format is not dict")
            return {}
        return res
    except Exception:
        logging.warning("Not able to convert passback_params to dict format")
        return {}


def convert_to_datetime(string: str) -> datetime:
    try:
        return datetime.fromisoformat(string)
    except Exception:
        logging.warning(f"Not able to convert {string} to ISO-format string.")
        raise ValueError("Date conversion Error") from None


def validate_return_value(
    value: Any, accepted_vals: tuple | None = None, class_or_tuple: Any = None
) -> Any:
    if class_or_tuple is not None and not isinstance(value, class_or_tuple):
        logging.warning(f"Type Validation Error: {value} doesn`t fit {class_or_tuple}")
        raise ValueError("Type Validation Error")
    if accepted_vals is not None and (value not in accepted_vals):
        logging.warning(f"Value Validation Error: {value} is not in {accepted_vals}")
        raise ValueError("Value Validation Error")
    return value


def hook(obj: dict) -> dict | None:
    """The notebook's JSON object hook: the row as a plain dict, or None when invalid."""
    try:
        passback = string_to_dict(obj["passback_params"])
        user_id = obj["lti_user_id"]
        oauth_consumer_key = passback.get("oauth_consumer_key", None)
        lis_result_sourcedid = passback.get("lis_result_sourcedid", None)
        lis_outcome_service_url = passback.get("lis_outcome_service_url", None)
        is_correct = obj["is_correct"]
        attempt_type = obj["attempt_type"]
        created_at = obj["created_at"]
        plain_dict = {
            "user_id": validate_return_value(user_id, class_or_tuple=str),
            "oauth_consumer_key": validate_return_value(
                oauth_consumer_key, class_or_tuple=(str, type(None))
            ),
            "lis_result_sourcedid": validate_return_value(
                lis_result_sourcedid, class_or_tuple=(str, type(None))
            ),
            "lis_outcome_service_url": validate_return_value(
                lis_outcome_service_url, class_or_tuple=(str, type(None))
            ),
            "is_correct": validate_return_value(
                is_correct, accepted_vals=(0, 1, None), class_or_tuple=(int, type(None))
            ),
            "attempt_type": validate_return_value(
                attempt_type, accepted_vals=("run", "submit"), class_or_tuple=str
            ),
            "created_at": convert_to_datetime(created_at),
        }
        return plain_dict
    except Exception:
        logging.warning(
            f"Above fail araised in: created_at {obj.get('created_at', 'Empty')}, "
            f"user_id {obj.get('lti_user_id', 'Empty')}"
        )
        return None


def run_etl(url: str, params: dict[str, str], dsn: str) -> dict[str, int]:
    """The notebook's cells from "Downloading data by API" to "Load to Database", in order."""
    logging.info("====================== New ETL started ======================")
    logging.info("Start downloading data by API")
    r = requests.get(url, params=params, timeout=None)
    r.raise_for_status()
    first_row_data = r.json()
    rows_income_cnt = len(first_row_data)
    logging.info(
        f"Downloading data by API completed successfully. Code {r.status_code}. "
        f"{rows_income_cnt} rows total"
    )

    logging.info("----- Raw data transformation started -----")
    user_solutions_structured = r.json(object_hook=hook)
    logging.info("Transformation stage 1 (rows transformation and validation) completed")
    user_solutions_structured[:] = [x for x in user_solutions_structured if x is not None]
    logging.info("Transformation stage 2 (non-working rows clearing) completed")
    rows_transformed_cnt = len(user_solutions_structured)

    logging.info("----- Start communication with Database -----")
    bamboo = DbOps(dsn)
    bamboo.make_table("public", "solutions", CREATING_QUERY)
    tuples_to_insert = [
        (
            row["user_id"],
            row["oauth_consumer_key"],
            row["lis_result_sourcedid"],
            row["lis_outcome_service_url"],
            row["is_correct"],
            row["attempt_type"],
            row["created_at"],
        )
        for row in user_solutions_structured
    ]
    rows_prepared_cnt = len(tuples_to_insert)
    inserted_rows_cnt = bamboo.insert_unique_data_to_table(
        "public", "solutions", "unique_check", COLUMNS_FOR_INSERTING, tuples_to_insert
    )
    logging.info(
        f"[public.solutions] Inserting data to DB-table completed. {inserted_rows_cnt} new rows "
        f"of {rows_prepared_cnt} prepared were inserted"
    )
    # Like the notebook's globals, `r`, `first_row_data`, `user_solutions_structured` and
    # `tuples_to_insert` stay referenced (as locals) until the load has finished.
    return {
        "extracted": rows_income_cnt,
        "validated": rows_transformed_cnt,
        "prepared": rows_prepared_cnt,
        "inserted": inserted_rows_cnt,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--client", default="Skillfactory")
    parser.add_argument("--client-key", required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--log-file", required=True)
    args = parser.parse_args()
    logging.basicConfig(
        filename=args.log_file,
        level=logging.INFO,
        filemode="a",
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        force=True,
    )
    params = {
        "client": args.client,
        "client_key": args.client_key,
        "start": args.start,
        "end": args.end,
    }
    print(json.dumps(run_etl(args.url, params, args.dsn)))


if __name__ == "__main__":
    main()
