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

With `--full` it goes on, as the notebook does after its load: its metrics query over all of
`public.solutions` with a DictCursor; with `--spreadsheet-id`, its Google Sheets cells through
gspread (the header row, then one `update` or `append_row` per day, every day, every run), its
"sleep 65 s after every 50 writes" counted and not slept; with `--smtp-port`, its plain-text
digest, over plain SMTP without login (the notebook logs in over SMTP_SSL; the fake server
of the benchmarks needs neither).

Left out, in the notebook's favour: rendering the cell outputs (`first_row_data`,
`user_solutions_structured`), which in Jupyter prints a million records.

    python -m benchmarks.notebook_baseline --url URL --client-key KEY \
        --start '2025-03-04 00:00:00.000000' --end '2025-03-04 23:59:59.999999' \
        --dsn DSN --log-file PATH [--full [--spreadsheet-id ID --sheets-key-file KEY
        --sheets-url URL] [--smtp-host HOST --smtp-port PORT]]

prints the notebook's counts, and each part's seconds, as one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import smtplib
import time
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import gspread
import psycopg2
import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.service_account import Credentials
from psycopg2 import sql
from psycopg2.extras import DictCursor, execute_values

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

# The notebook's metrics query, run over the whole table every time.
METRICS_QUERY = """
WITH first_seen AS (SELECT min(date(created_at)) AS study_date, user_id
        FROM public.solutions GROUP BY user_id),
    new_users AS (SELECT study_date, count(user_id) AS new_users_cnt
        FROM first_seen GROUP BY study_date),
    solutions_metrics AS (SELECT date(created_at) AS study_date,
            count(*) AS attempts_per_day_total,
            count(*) FILTER(WHERE is_correct=1) AS correct_attempts_per_day,
            count(DISTINCT user_id) AS unique_users_per_day
        FROM public.solutions GROUP BY study_date ORDER BY study_date)
SELECT to_char(sm.study_date, 'yyyy-mm-dd') AS study_date, attempts_per_day_total,
    correct_attempts_per_day, unique_users_per_day,
    COALESCE(nu.new_users_cnt, 0) AS new_users_per_day
FROM solutions_metrics sm LEFT JOIN new_users nu USING(study_date) ORDER BY study_date
"""
DIGEST_TEXT = """
    Dear all,

    Thanks for following our team digest!

    Todays ETL script was runned successfully:
    Rows extracted by API: {extracted}
    Rows validated: {validated}
    Rows prepared to insert to DB: {prepared}
    New rows inserted to DB: {inserted}

    The dashboard Google Sheet was also updated successfully.

    BR,
    Bamboo team
    """
DASHBOARD_SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
GOOGLE_SHEETS_URL = "https://sheets.googleapis.com"
REQUESTS_PER_MIN_LIMIT = 50
SLEEP_BETWEEN_REQUESTS_SEC = 65


@dataclass(frozen=True)
class Full:
    """The notebook's cells after its load (`--full`); a target left None is skipped."""

    spreadsheet_id: str | None = None
    sheets_key_file: str | None = None
    sheets_url: str = GOOGLE_SHEETS_URL
    worksheet: str = "Sheet1"
    smtp_host: str = "127.0.0.1"
    smtp_port: int | None = None


class Laps(dict[str, float]):
    """Seconds of each part of the run, in order."""

    def __init__(self) -> None:
        super().__init__()
        self._last = time.perf_counter()

    def __call__(self, part: str) -> None:
        now = time.perf_counter()
        self[part] = round(now - self._last, 3)
        self._last = now


class SheetsSession(AuthorizedSession):
    """google-auth's session sending Google's Sheets URLs to `base_url` (a fake's).

    The fake answers `majorDimension=ROWS` only, and the notebook's `col_values` asks for
    COLUMNS: that one request is sent as ROWS and its answer transposed here, so the fake
    still sees exactly one request for it.
    """

    def __init__(self, credentials: Credentials, base_url: str) -> None:
        super().__init__(credentials)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(GOOGLE_SHEETS_URL):
            url = self.base_url + url[len(GOOGLE_SHEETS_URL) :]
        params = kwargs.get("params")
        columns = isinstance(params, dict) and params.get("majorDimension") == "COLUMNS"
        if columns:
            kwargs["params"] = {**params, "majorDimension": "ROWS"}
        response = super().request(method, url, *args, **kwargs)
        if columns and response.ok:
            payload = response.json()
            rows = payload.get("values", [])
            width = max((len(row) for row in rows), default=0)
            padded = [row + [""] * (width - len(row)) for row in rows]
            payload["values"] = [list(column) for column in zip(*padded, strict=True)]
            payload["majorDimension"] = "COLUMNS"
            response._content = json.dumps(payload).encode()
        return response


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

    def query_fetchall_dict(self, query: str) -> list:
        with psycopg2.connect(self.dsn) as conn, conn.cursor(cursor_factory=DictCursor) as cur:
            cur.execute(query)
            return cur.fetchall()


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


def run_etl(url: str, params: dict[str, str], dsn: str, full: Full | None = None) -> dict:
    """The notebook's cells from "Downloading data by API" to "Load to Database", in order;
    with `full`, on to its metrics, dashboard and digest."""
    laps = Laps()
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
    laps("download")

    logging.info("----- Raw data transformation started -----")
    user_solutions_structured = r.json(object_hook=hook)
    logging.info("Transformation stage 1 (rows transformation and validation) completed")
    user_solutions_structured[:] = [x for x in user_solutions_structured if x is not None]
    logging.info("Transformation stage 2 (non-working rows clearing) completed")
    rows_transformed_cnt = len(user_solutions_structured)
    laps("transform")

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
    laps("load")
    counts = {
        "extracted": rows_income_cnt,
        "validated": rows_transformed_cnt,
        "prepared": rows_prepared_cnt,
        "inserted": inserted_rows_cnt,
    }
    if full is not None:
        counts.update(after_load(full, bamboo, counts, laps))
    # Like the notebook's globals, `r`, `first_row_data`, `user_solutions_structured` and
    # `tuples_to_insert` stay referenced (as locals) until the run has finished.
    return {**counts, "parts": laps}


def after_load(full: Full, bamboo: DbOps, counts: dict[str, int], laps: Laps) -> dict[str, int]:
    """The notebook's cells after its load: metrics, the Google Sheet, the digest e-mail."""
    logging.info("----- Direct database analytics starts -----")
    db_dic_list = bamboo.query_fetchall_dict(METRICS_QUERY)
    laps("metrics")
    done = {"metrics_rows": len(db_dic_list), "sheet_writes": 0, "quota_sleep_seconds": 0}
    if full.spreadsheet_id and db_dic_list:
        done["sheet_writes"], done["quota_sleep_seconds"] = write_dashboard(full, db_dic_list)
        laps("dashboard")
    if full.smtp_port:
        send_digest(full, counts)
        done["mails"] = 1
        laps("digest")
    return done


def write_dashboard(full: Full, db_dic_list: list) -> tuple[int, int]:
    """The notebook's Google Sheets cells: (writes, seconds its quota rule would have slept)."""
    logging.info("----- Start communucation with Google Spreadsheet -----")
    creds = Credentials.from_service_account_file(full.sheets_key_file, scopes=DASHBOARD_SCOPES)
    gc = gspread.Client(creds, session=SheetsSession(creds, full.sheets_url))
    ws = gc.open_by_key(full.spreadsheet_id).worksheet(full.worksheet)
    ws_headers = ws.row_values(1)
    query_headers = db_dic_list[0].keys()  # noqa: SIM118 (a DictRow iterates over its values)
    add_headers = [header for header in query_headers if header not in ws_headers]
    if add_headers:
        ws_headers.extend(add_headers)
        ws.update(range_name="1:1", values=[ws_headers], value_input_option="USER_ENTERED")
    dates_in_ws = ws.col_values(ws_headers.index("study_date") + 1)
    slept = 0
    for i, dic in enumerate(db_dic_list):
        if i > 0 and i % REQUESTS_PER_MIN_LIMIT == 0:
            slept += SLEEP_BETWEEN_REQUESTS_SEC  # counted, not slept
        row_to_add = [dic.get(key) for key in ws_headers]
        row_date = dic["study_date"]
        if row_date in dates_in_ws:
            ws.update(
                range_name=f"A{dates_in_ws.index(row_date) + 1}",
                values=[row_to_add],
                value_input_option="USER_ENTERED",
            )
        else:
            ws.append_row(row_to_add, value_input_option="USER_ENTERED")
    return len(db_dic_list), slept


def send_digest(full: Full, counts: dict[str, int]) -> None:
    """The notebook's digest: its text, one recipient, a new SMTP session."""
    logging.info("----- Start communucation with SMTP Server -----")
    msg = EmailMessage()
    msg["Subject"] = "Work done"
    msg["From"] = "Bamboo Project <digest@example.org>"
    msg["To"] = "team@example.org"
    msg.set_content(DIGEST_TEXT.format(**counts))
    with smtplib.SMTP(full.smtp_host, full.smtp_port) as server:
        server.send_message(msg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--client", default="Skillfactory")
    parser.add_argument("--client-key", required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--log-file", required=True)
    parser.add_argument("--full", action="store_true", help="metrics, dashboard and digest too")
    parser.add_argument("--spreadsheet-id")
    parser.add_argument("--sheets-key-file")
    parser.add_argument("--sheets-url", default=GOOGLE_SHEETS_URL)
    parser.add_argument("--smtp-host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int)
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
    targets = ("spreadsheet_id", "sheets_key_file", "sheets_url", "smtp_host", "smtp_port")
    full = Full(**{name: getattr(args, name) for name in targets}) if args.full else None
    print(json.dumps(run_etl(args.url, params, args.dsn, full)))


if __name__ == "__main__":
    main()
