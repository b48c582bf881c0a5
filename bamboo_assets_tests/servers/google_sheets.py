"""A fake Google Sheets API v4 plus OAuth token endpoint, served over real HTTP.

Why: the dashboard code talks to Sheets through gspread's HTTPClient on a google-auth
AuthorizedSession. Serving real HTTP lets the whole stack run for real: the JWT-bearer
grant signed with a real RSA key, the Bearer header, the `fields` mask, and Google's error
JSON turning into gspread's APIError.

What it serves is what Bamboo and its benchmark use: `spreadsheets.get` (grid data, charts,
developer metadata, `ranges`, `fields`), `spreadsheets.batchUpdate` (the requests in
_sheets_state.BATCH_REQUESTS, `includeSpreadsheetInResponse`), and for the notebook's gspread
calls `values.get`, `values.update` and `values.append`. Simplifications: formulas are
stored, never evaluated; values.append finds its table with a simple rule; values writes grow
the grid unless `strict_grid=True`; only ROWS major dimension.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions as google_auth_exceptions
from google.auth import jwt as google_jwt

from bamboo_assets_tests.servers._http import HttpFake, TrackedServer
from bamboo_assets_tests.servers._sheets_requests import (
    input_option,
    json_body,
    param,
    require_rows,
)
from bamboo_assets_tests.servers._sheets_state import (
    BATCH_REQUESTS,
    WHOLE_SHEET,
    Cell,
    Json,
    SheetsError,
    Spreadsheet,
    Worksheet,
    apply_fields,
    format_range,
    formatted,
    grid_limit_message,
    normalise_number,
    parse_fields,
    proto_json,
    read_bounds,
    resolve,
    user_entered,
)

# google-auth always signs the assertion for Google's own endpoint, whatever token_uri says.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_REQUEST_BYTES = 64 << 20
_SPREADSHEETS_PREFIX = "/v4/spreadsheets/"


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: str | None


# -- HTTP plumbing -----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Moves bytes only; FakeGoogleSheets._respond() decides what to answer."""

    disable_nagle_algorithm = True  # headers and body go in two sends: no 40 ms stall
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle or stuck client cannot hold a thread forever
    server: TrackedServer

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            status, payload, headers = 413, SheetsError(413, "Request too large").payload(), {}
            self.close_connection = True
        else:
            body = self.rfile.read(length) if length else b""
            status, payload, headers = self.server.owner._respond(
                self.command, self.path, self.headers, body
            )
        data = json.dumps(payload, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: pytest output is for assertions, not access logs."""


# -- the fake ----------------------------------------------------------------------------------


class FakeGoogleSheets(HttpFake):
    """Sheets API v4 + OAuth token endpoint on 127.0.0.1, holding spreadsheets in memory.

    Point a service account's `token_uri` at `token_uri` (write_service_account_file does)
    and send `https://sheets.googleapis.com` requests to `base_url`.
    """

    handler = _Handler

    def __init__(self, *, strict_grid: bool = False, max_lifetime_seconds: float = 600.0) -> None:
        super().__init__(max_lifetime_seconds)
        self._strict_grid = strict_grid
        self._lock = threading.RLock()
        self._spreadsheets: dict[str, Spreadsheet] = {}
        self._faults: deque[_Fault] = deque()
        self._tokens: set[str] = set()
        self._granted_scopes: list[str] = []
        self._sheet_requests: list[tuple[str, str]] = []
        self._token_requests = 0
        self._formulas_evaluated = 0
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._key_id = secrets.token_hex(20)
        self._public_pem = (
            self._private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        self.client_email = "bamboo-tests@bamboo-tests.iam.gserviceaccount.com"

    # -- connection details --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Replaces https://sheets.googleapis.com, e.g. http://127.0.0.1:PORT."""
        host, port = self._started().server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def service_account_info(self) -> dict[str, str]:
        """A service-account key as Google issues it, with token_uri pointing at this fake."""
        private_pem = self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": "bamboo-tests",
            "private_key_id": self._key_id,
            "private_key": private_pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "universe_domain": "googleapis.com",
        }

    def write_service_account_file(self, path: str | os.PathLike[str]) -> Path:
        """Write service_account_info() as JSON (what from_service_account_file reads)."""
        target = Path(path)
        target.write_text(json.dumps(self.service_account_info(), indent=2), encoding="utf-8")
        return target

    # -- state helpers (what a person sees and does in the sheet) -------------------------------

    def add_spreadsheet(
        self,
        spreadsheet_id: str,
        sheet_titles: Sequence[str] = ("Sheet1",),
        *,
        title: str | None = None,
    ) -> None:
        """Create an empty spreadsheet; sheet ids are 0, 1, 2... in title order."""
        if not sheet_titles or len(set(sheet_titles)) != len(sheet_titles):
            raise ValueError("need at least one sheet title, all distinct")
        sheets = [Worksheet(index, sheet) for index, sheet in enumerate(sheet_titles)]
        with self._lock:
            if spreadsheet_id in self._spreadsheets:
                raise ValueError(f"spreadsheet {spreadsheet_id!r} already exists")
            self._spreadsheets[spreadsheet_id] = Spreadsheet(
                spreadsheet_id, title or f"Spreadsheet {spreadsheet_id}", sheets
            )

    def grid(self, spreadsheet_id: str, title: str) -> list[list[Cell]]:
        """Stored values of a worksheet, trimmed like Google (no trailing empties); a date is
        its serial number, as UNFORMATTED_VALUE answers it."""
        with self._lock:
            sheet = self._sheet(spreadsheet_id, title)
            return sheet.values(0, 0, len(sheet.rows), sheet.column_count)

    def shown_grid(self, spreadsheet_id: str, title: str) -> list[list[Cell]]:
        """grid(), with each date cell as the text its number format shows (`2025-03-01`)."""
        with self._lock:
            sheet = self._sheet(spreadsheet_id, title)
            rows = sheet.values(0, 0, len(sheet.rows), sheet.column_count)
            return [
                [
                    formatted(cell, sheet.number_formats[r, c])
                    if (r, c) in sheet.number_formats and isinstance(cell, int | float)
                    else cell
                    for c, cell in enumerate(row)
                ]
                for r, row in enumerate(rows)
            ]

    def set_grid(self, spreadsheet_id: str, title: str, rows: Sequence[Sequence[Cell]]) -> None:
        """A person retyping the worksheet: values replaced verbatim (no parsing), number
        formats cleared; the grid grows to fit."""
        copied = [[normalise_number(cell) for cell in row] for row in rows]
        with self._lock:
            sheet = self._sheet(spreadsheet_id, title)
            sheet.rows = copied
            sheet.number_formats.clear()
            sheet.grow(len(copied), max((len(row) for row in copied), default=0))

    def number_formats(self, spreadsheet_id: str, title: str) -> dict[tuple[int, int], Json]:
        """(0-based row, column) → the cell's userEnteredFormat.numberFormat."""
        with self._lock:
            return copy.deepcopy(self._sheet(spreadsheet_id, title).number_formats)

    def charts(self, spreadsheet_id: str, title: str) -> list[Json]:
        """The worksheet's embedded charts as spreadsheets.get lists them."""
        with self._lock:
            return copy.deepcopy(self._sheet(spreadsheet_id, title).charts)

    def developer_metadata(self, spreadsheet_id: str, title: str) -> list[Json]:
        with self._lock:
            return copy.deepcopy(self._sheet(spreadsheet_id, title).developer_metadata)

    def add_chart(self, spreadsheet_id: str, title: str, spec: Json) -> int:
        """A chart a person drew on the worksheet; returns its chartId."""
        with self._lock:
            book = self._spreadsheets[spreadsheet_id]
            sheet = self._sheet(spreadsheet_id, title)
            chart_id = max(book.chart_ids(), default=100_000) + 1
            position = {"overlayPosition": {"anchorCell": {"sheetId": sheet.sheet_id}}}
            sheet.charts.append(
                proto_json({"chartId": chart_id, "spec": spec, "position": position})
            )
            return chart_id

    def delete_chart(self, spreadsheet_id: str, chart_id: int) -> None:
        """A person deleting a chart (its developer metadata, on the sheet, stays)."""
        with self._lock:
            for sheet in self._spreadsheets[spreadsheet_id].sheets:
                sheet.charts = [chart for chart in sheet.charts if chart["chartId"] != chart_id]

    def grid_size(self, spreadsheet_id: str, title: str) -> tuple[int, int]:
        """(rowCount, columnCount) as the metadata reports them."""
        with self._lock:
            sheet = self._sheet(spreadsheet_id, title)
            return sheet.row_count, sheet.column_count

    def sheet_titles(self, spreadsheet_id: str) -> list[str]:
        with self._lock:
            return [sheet.title for sheet in self._spreadsheets[spreadsheet_id].sheets]

    def _sheet(self, spreadsheet_id: str, title: str) -> Worksheet:
        sheet = self._spreadsheets[spreadsheet_id].find(title)
        if sheet is None:
            raise KeyError(f"no worksheet {title!r} in {spreadsheet_id!r}")
        return sheet

    # -- counters and faults -----------------------------------------------------------------

    @property
    def formulas_evaluated(self) -> int:
        """Cells written with USER_ENTERED that began with '=' (Google would evaluate them)."""
        with self._lock:
            return self._formulas_evaluated

    @property
    def sheet_requests(self) -> list[tuple[str, str]]:
        """(method, path+query) of every Sheets API call, token calls excluded."""
        with self._lock:
            return list(self._sheet_requests)

    @property
    def token_requests(self) -> int:
        with self._lock:
            return self._token_requests

    @property
    def granted_scopes(self) -> list[str]:
        """The `scope` claim of every token granted, to check what production asks for."""
        with self._lock:
            return list(self._granted_scopes)

    def reset_counters(self) -> None:
        with self._lock:
            self._formulas_evaluated = 0
            self._sheet_requests.clear()
            self._token_requests = 0
            self._granted_scopes.clear()

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` Sheets API calls (token calls excluded) answer `status`."""
        with self._lock:
            self._faults.extend(_Fault(status, retry_after) for _ in range(times))

    def expire_tokens(self) -> None:
        """Invalidate every access token, as if an hour had passed: clients must refresh."""
        with self._lock:
            self._tokens.clear()

    def _respond(
        self, method: str, target: str, headers: Message, body: bytes
    ) -> tuple[int, Json, dict[str, str]]:
        """(status, JSON payload, extra headers) for one request; never raises."""
        try:
            if urlsplit(target).path == "/token":
                return self._token(method, body)
            return 200, self._sheets_call(method, target, headers, body), {}
        except SheetsError as error:
            return error.code, error.payload(), error.headers
        except Exception as error:  # a bug in the fake must reach the test, not vanish
            return 500, SheetsError(500, f"fake Sheets crashed: {error!r}").payload(), {}

    def _token(self, method: str, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self._token_requests += 1
        if method != "POST":
            return 405, {"error": "invalid_request", "error_description": "POST only"}, {}
        form = parse_qs(body.decode("utf-8", "replace"))
        grant_type = form.get("grant_type", [""])[0]
        if grant_type != JWT_BEARER_GRANT:
            description = f"Invalid grant_type: {grant_type}"
            return 400, {"error": "unsupported_grant_type", "error_description": description}, {}
        try:
            claims = google_jwt.decode(
                form.get("assertion", [""])[0],
                certs={self._key_id: self._public_pem},
                audience=[GOOGLE_TOKEN_AUDIENCE, self.token_uri],
                clock_skew_in_seconds=30,
            )
        except (ValueError, google_auth_exceptions.GoogleAuthError):
            description = "Invalid JWT Signature."
            return 400, {"error": "invalid_grant", "error_description": description}, {}
        if claims.get("iss") != self.client_email:
            description = "Invalid grant: account not found"
            return 400, {"error": "invalid_grant", "error_description": description}, {}
        if not claims.get("scope"):
            description = "Invalid OAuth scope or ID token audience provided."
            return 400, {"error": "invalid_scope", "error_description": description}, {}
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
            self._granted_scopes.append(claims["scope"])
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}, {}

    def _sheets_call(self, method: str, target: str, headers: Message, body: bytes) -> Json:
        with self._lock:
            self._sheet_requests.append((method, target))
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            raise SheetsError(fault.status, headers=extra)
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        with self._lock:
            authorised = scheme.lower() == "bearer" and token in self._tokens
        if not authorised:
            raise SheetsError(
                401, headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
            )

        split = urlsplit(target)
        query = parse_qs(split.query, keep_blank_values=True)
        payload = json_body(body)
        if not split.path.startswith(_SPREADSHEETS_PREFIX):
            raise SheetsError(404, f"fake Sheets: no route for {method} {split.path}")
        segments = split.path[len(_SPREADSHEETS_PREFIX) :].split("/")
        spreadsheet_id, _, verb = unquote(segments[0]).partition(":")
        fields = param(query, "fields", None)
        mask = parse_fields(fields) if fields else None
        with self._lock:
            spreadsheet = self._spreadsheets.get(spreadsheet_id)
            if spreadsheet is None:
                raise SheetsError(404)
            answer = self._route(method, spreadsheet, verb, segments[1:], query, payload)
        return apply_fields(answer, mask)

    def _route(
        self,
        method: str,
        spreadsheet: Spreadsheet,
        verb: str,
        segments: list[str],
        query: dict[str, list[str]],
        payload: Json,
    ) -> Json:
        if not segments:
            if method == "GET" and not verb:
                return self._get(spreadsheet, query)
            if method == "POST" and verb == "batchUpdate":
                return self._batch_update(spreadsheet, payload)
        elif segments[0] == "values" and len(segments) > 1:
            # gspread quotes the range with safe="", so a literal ':' can only start a verb.
            raw_range = "/".join(segments[1:])
            raw_range, append = raw_range.removesuffix(":append"), raw_range.endswith(":append")
            range_text = unquote(raw_range)
            if method == "GET" and not append:
                return self._values_get(spreadsheet, range_text, query)
            if method == "PUT" and not append:
                return self._values_update(spreadsheet, range_text, query, payload)
            if method == "POST" and append:
                return self._values_append(spreadsheet, range_text, query, payload)
        raise SheetsError(404, f"fake Sheets: no route for {method} {'/'.join(segments)}")

    # -- spreadsheets.get and spreadsheets.batchUpdate ------------------------------------------

    def _get(self, spreadsheet: Spreadsheet, query: dict[str, list[str]]) -> Json:
        grid_data = param(query, "includeGridData", "false") == "true"
        return spreadsheet.as_json(_titles(spreadsheet, query.get("ranges")), grid_data)

    def _batch_update(self, spreadsheet: Spreadsheet, payload: Json) -> Json:
        """Every request applied to a copy, kept only if all succeed (atomic, as Google is)."""
        draft = copy.deepcopy(spreadsheet)
        draft.formulas_entered = 0
        replies: list[Json] = []
        for number, request in enumerate(payload.get("requests") or []):
            if not isinstance(request, dict) or len(request) != 1:
                raise SheetsError(400, f"Invalid requests[{number}]: set exactly one request kind")
            [(kind, spec)] = request.items()
            action = BATCH_REQUESTS.get(kind)
            if action is None:
                raise SheetsError(400, f"fake Sheets does not support batchUpdate request {kind!r}")
            try:
                replies.append(action(draft, spec or {}))
            except SheetsError as error:
                message = f"Invalid requests[{number}].{kind}: {error.message}"
                raise SheetsError(400, message) from None
        spreadsheet.sheets = draft.sheets
        spreadsheet.next_metadata_id = draft.next_metadata_id
        self._formulas_evaluated += draft.formulas_entered
        answer: Json = {"spreadsheetId": spreadsheet.spreadsheet_id, "replies": replies}
        if payload.get("includeSpreadsheetInResponse"):
            ranges = payload.get("responseRanges")
            grid_data = bool(payload.get("responseIncludeGridData"))
            titles = _titles(spreadsheet, ranges)
            answer["updatedSpreadsheet"] = spreadsheet.as_json(titles, grid_data)
        return answer

    # -- values (the notebook's gspread calls, replayed by the benchmark) -----------------------

    def _values_get(
        self, spreadsheet: Spreadsheet, range_text: str, query: dict[str, list[str]]
    ) -> Json:
        render = param(query, "valueRenderOption", "FORMATTED_VALUE")
        if render not in ("FORMATTED_VALUE", "UNFORMATTED_VALUE"):
            raise SheetsError(400, f"Invalid value at 'value_render_option' ({render})")
        require_rows(param(query, "majorDimension", "ROWS"))
        sheet, rect = resolve(spreadsheet, range_text)
        top, left, bottom, right = read_bounds(sheet, rect)
        values: list[list[Any]] = sheet.values(top, left, bottom, right)
        if render == "FORMATTED_VALUE":
            values = [[formatted(cell) for cell in row] for row in values]
        answer: Json = {
            "range": format_range(sheet.title, top, left, bottom, right),
            "majorDimension": "ROWS",
        }
        if values:
            answer["values"] = values
        return answer

    def _values_update(
        self,
        spreadsheet: Spreadsheet,
        range_text: str,
        query: dict[str, list[str]],
        payload: Json,
    ) -> Json:
        entered = input_option(param(query, "valueInputOption", None))
        require_rows(payload.get("majorDimension") or "ROWS")
        sheet, rect = resolve(spreadsheet, range_text)
        rect = rect or WHOLE_SHEET
        values = payload.get("values") or []
        written = self._write(sheet, rect.top, rect.left, values, entered)
        return {"spreadsheetId": spreadsheet.spreadsheet_id, **written}

    def _values_append(
        self,
        spreadsheet: Spreadsheet,
        range_text: str,
        query: dict[str, list[str]],
        payload: Json,
    ) -> Json:
        """Append after the 'table' found in the range.

        Simplified rule: the table is the first run of non-empty rows at or below the range's
        top; new rows start at its first filled column (or at the range's corner).
        """
        entered = input_option(param(query, "valueInputOption", None))
        if param(query, "insertDataOption", "OVERWRITE") != "OVERWRITE":
            raise SheetsError(400, "fake Sheets appends with insertDataOption=OVERWRITE only")
        require_rows(payload.get("majorDimension") or "ROWS")
        sheet, rect = resolve(spreadsheet, range_text)
        rect = rect or WHOLE_SHEET
        values = payload.get("values") or []

        def filled_columns(row: int) -> list[int]:
            cells = sheet.rows[row][rect.left :] if row < len(sheet.rows) else []
            return [rect.left + c for c, cell in enumerate(cells) if cell != ""]

        first = next((r for r in range(rect.top, len(sheet.rows)) if filled_columns(r)), None)
        answer: Json = {"spreadsheetId": spreadsheet.spreadsheet_id}
        top, left = rect.top, rect.left
        if first is not None:
            end = first
            while end < len(sheet.rows) and filled_columns(end):
                end += 1
            columns = [c for r in range(first, end) for c in filled_columns(r)]
            top, left = end, min(columns)
            answer["tableRange"] = format_range(sheet.title, first, left, end, max(columns) + 1)
        written = self._write(sheet, top, left, values, entered)
        answer["updates"] = {"spreadsheetId": spreadsheet.spreadsheet_id, **written}
        return answer

    def _write(
        self, sheet: Worksheet, top: int, left: int, values: list[list[Cell | None]], entered: bool
    ) -> Json:
        height, width = len(values), max((len(row) for row in values), default=0)
        if self._strict_grid and (
            top + height > sheet.row_count or left + width > sheet.column_count
        ):
            raise SheetsError(400, grid_limit_message(sheet, top, left, top + height, left + width))
        sheet.grow(top + height, left + width)
        cells = 0
        for r, row in enumerate(values):
            for c, value in enumerate(row):
                if value is None:  # null leaves the cell as it is, as in the real API
                    continue
                if entered:
                    stored, is_formula = user_entered(value)
                    self._formulas_evaluated += is_formula
                else:
                    stored = normalise_number(value)
                sheet.put(top + r, left + c, stored)
                cells += 1
        summary: Json = {
            "updatedRange": format_range(sheet.title, top, left, top + height, left + width)
        }
        counts = {"updatedRows": height, "updatedColumns": width, "updatedCells": cells}
        summary.update({name: value for name, value in counts.items() if value})
        return summary


# -- module helpers ----------------------------------------------------------------------------


def _titles(spreadsheet: Spreadsheet, ranges: Sequence[str] | None) -> list[str] | None:
    """The worksheets `ranges` name (whole-sheet ranges only, as Bamboo sends them)."""
    if not ranges:
        return None
    titles = []
    for text in ranges:
        sheet, rect = resolve(spreadsheet, text)
        if rect is not None:
            raise SheetsError(400, f"fake Sheets reads whole worksheets only, not {text}")
        titles.append(sheet.title)
    return titles
