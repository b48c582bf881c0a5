"""A fake Google Sheets API v4 plus OAuth token endpoint, served over real HTTP.

Why: the dashboard code talks to Sheets through gspread's HTTPClient on a google-auth
AuthorizedSession. Serving real HTTP lets the whole stack run for real: the JWT-bearer
grant signed with a real RSA key, the Bearer header, gspread's URL quoting of A1 ranges,
and Google's error JSON turning into gspread's APIError.

Deliberate simplifications (documented where they live): formulas are stored, never
evaluated; values.append finds its table with a simple rule; writes grow the grid unless
`strict_grid=True`; only ROWS major dimension.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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

Cell = str | int | float | bool

# google-auth always signs the assertion for Google's own endpoint, whatever token_uri says.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_ROWS = 1000
DEFAULT_COLUMNS = 26
MAX_REQUEST_BYTES = 64 << 20
_SPREADSHEETS_PREFIX = "/v4/spreadsheets/"
_GRID_FIELDS = ("rowCount", "columnCount", "frozenRowCount", "frozenColumnCount")
_RENDER_OPTIONS = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
_INPUT_OPTIONS = ("RAW", "USER_ENTERED")

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_STATUS_MESSAGES = {
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per "
    "minute per user' of service 'sheets.googleapis.com' for consumer 'project_number:0'.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
    504: "The service is currently unavailable.",
}

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_CELL_REF = re.compile(r"\$?([A-Za-z]{0,3})\$?(\d{0,7})")
_PLAIN_TITLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REF_LIKE_TITLE = re.compile(r"[A-Za-z]{1,3}\d*|[Rr]\d*[Cc]\d*")


class _ApiError(Exception):
    """An error answered in Google's JSON shape, which gspread's APIError parses."""

    def __init__(
        self, code: int, message: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message or _STATUS_MESSAGES.get(code, f"HTTP {code}")
        self.headers = headers or {}

    def payload(self) -> dict[str, Any]:
        status = _STATUS_NAMES.get(self.code, "UNKNOWN")
        return {"error": {"code": self.code, "message": self.message, "status": status}}


# -- A1 notation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rect:
    """Zero-based, half-open cell rectangle; None means unbounded on that side.

    `anchor` marks a single cell (or a whole sheet): writes may spill past it, as Google allows.
    """

    top: int
    left: int
    bottom: int | None
    right: int | None
    anchor: bool = False


_WHOLE_SHEET = _Rect(0, 0, None, None, anchor=True)


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def _column_letters(index: int) -> str:
    number, letters = index + 1, ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _cell_ref(text: str) -> tuple[int | None, int | None]:
    """'B7' -> (1, 6), 'B' -> (1, None), '7' -> (None, 6); `$` markers are ignored."""
    match = _CELL_REF.fullmatch(text)
    if not match or not (match[1] or match[2]):
        raise ValueError(text)
    column = _column_index(match[1]) if match[1] else None
    row = int(match[2]) - 1 if match[2] else None
    if row is not None and row < 0:
        raise ValueError(text)
    return column, row


def _parse_a1(text: str) -> _Rect:
    """A1 part of a range: 'A5', 'A1:F10', 'A:B', '1:1', 'A5:B' (open-ended rows)."""
    parts = text.split(":")
    if len(parts) == 1:
        column, row = _cell_ref(parts[0])
        if column is None or row is None:
            raise ValueError(text)
        return _Rect(row, column, row + 1, column + 1, anchor=True)
    if len(parts) != 2:
        raise ValueError(text)
    (c1, r1), (c2, r2) = _cell_ref(parts[0]), _cell_ref(parts[1])
    if not ((c1 is not None and c2 is not None) or (r1 is not None and r2 is not None)):
        raise ValueError(text)
    if c1 is not None and c2 is not None and c2 < c1:  # Google normalises reversed corners
        c1, c2 = c2, c1
    if r1 is not None and r2 is not None and r2 < r1:
        r1, r2 = r2, r1
    return _Rect(
        top=r1 if r1 is not None else 0,
        left=c1 if c1 is not None else 0,
        bottom=r2 + 1 if r2 is not None else None,
        right=c2 + 1 if c2 is not None else None,
    )


def _split_sheet(text: str) -> tuple[str | None, str | None]:
    """ "'It''s'!A1" -> ("It's", "A1"); "Sheet1" -> (None, "Sheet1"), resolved later."""
    if text.startswith("'"):
        title, index = [], 1
        while True:
            if index >= len(text):
                raise ValueError(text)
            if text[index] == "'":
                if text[index + 1 : index + 2] != "'":
                    break
                index += 1
            title.append(text[index])
            index += 1
        rest = text[index + 1 :]
        if not rest:
            return "".join(title), None
        if rest.startswith("!") and len(rest) > 1:
            return "".join(title), rest[1:]
        raise ValueError(text)
    if "!" in text:
        title_text, _, a1 = text.rpartition("!")
        if not title_text or not a1:
            raise ValueError(text)
        return title_text, a1
    return None, text


def _quote_title(title: str) -> str:
    """Quote a title as Google does in answers: only when it could be misread."""
    if _PLAIN_TITLE.fullmatch(title) and not _REF_LIKE_TITLE.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def _format_range(title: str, top: int, left: int, bottom: int, right: int) -> str:
    bottom, right = max(bottom, top + 1), max(right, left + 1)
    a1 = f"{_column_letters(left)}{top + 1}"
    if (bottom - top, right - left) != (1, 1):
        a1 += f":{_column_letters(right - 1)}{bottom}"
    return f"{_quote_title(title)}!{a1}"


# -- cell values ---------------------------------------------------------------------------


def _normalise_number(value: Cell) -> Cell:
    """Google keeps numbers as doubles: 3.0 and 3 are the same cell, answered as 3."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _user_entered(value: Cell) -> tuple[Cell, bool]:
    """Parse like a user typing into the UI; returns (stored value, is a formula)."""
    if not isinstance(value, str):
        return _normalise_number(value), False
    if value.startswith("="):
        return value, True
    if value.startswith("'"):
        return value[1:], False
    text = value.strip()
    if _NUMBER.fullmatch(text):
        if _INTEGER.fullmatch(text) and abs(int(text)) < 2**53:
            return int(text), False
        return _normalise_number(float(text)), False
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE", False
    return value, False


def _formatted(value: Cell) -> str:
    """FORMATTED_VALUE rendering; numbers approximate Google's 'Automatic' format."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return repr(value).replace("e+", "E+").replace("e-", "E-")
    return str(value)


def _checked_values(values: object, where: str) -> list[list[Cell | None]]:
    """Reject what Google rejects: non-list rows, nested structures, NaN (caught earlier)."""
    if values is None:
        return []
    if not isinstance(values, list):
        raise _ApiError(400, f"Invalid value at '{where}' (type.googleapis.com/ListValue)")
    for r, row in enumerate(values):
        if not isinstance(row, list):
            raise _ApiError(400, f"Invalid value at '{where}[{r}]' (type.googleapis.com/ListValue)")
        for c, cell in enumerate(row):
            if cell is not None and not isinstance(cell, str | int | float | bool):
                raise _ApiError(400, f"Invalid values[{r}][{c}]: {json.dumps(cell)[:80]}")
    return values


# -- state ---------------------------------------------------------------------------------


@dataclass
class _Worksheet:
    sheet_id: int
    title: str
    rows: list[list[Cell]] = field(default_factory=list)
    # rowCount, columnCount, and frozenRowCount/frozenColumnCount once set.
    grid_properties: dict[str, int] = field(
        default_factory=lambda: {"rowCount": DEFAULT_ROWS, "columnCount": DEFAULT_COLUMNS}
    )

    @property
    def row_count(self) -> int:
        return self.grid_properties["rowCount"]

    @row_count.setter
    def row_count(self, value: int) -> None:
        self.grid_properties["rowCount"] = value

    @property
    def column_count(self) -> int:
        return self.grid_properties["columnCount"]

    @column_count.setter
    def column_count(self, value: int) -> None:
        self.grid_properties["columnCount"] = value

    def clone(self) -> _Worksheet:
        rows = [row[:] for row in self.rows]
        return _Worksheet(self.sheet_id, self.title, rows, dict(self.grid_properties))

    def get(self, row: int, column: int) -> Cell:
        if row < len(self.rows) and column < len(self.rows[row]):
            return self.rows[row][column]
        return ""

    def put(self, row: int, column: int, value: Cell) -> None:
        while len(self.rows) <= row:
            self.rows.append([])
        cells = self.rows[row]
        if len(cells) <= column:
            if value == "":
                return
            cells.extend([""] * (column + 1 - len(cells)))
        cells[column] = value

    def grow(self, bottom: int, right: int) -> None:
        self.row_count = max(self.row_count, bottom)
        self.column_count = max(self.column_count, right)

    def insert_rows(self, at: int, count: int) -> None:
        while len(self.rows) < at:
            self.rows.append([])
        self.rows[at:at] = [[] for _ in range(count)]
        self.row_count += count

    def truncate(self) -> None:
        """Drop data outside the grid after a resize, as Google does."""
        del self.rows[self.row_count :]
        for row in self.rows:
            del row[self.column_count :]

    def values(self, top: int, left: int, bottom: int, right: int) -> list[list[Cell]]:
        """The rectangle trimmed like Google: trailing empty cells and rows dropped."""
        out: list[list[Cell]] = []
        for row in self.rows[top:bottom]:
            cells = row[left:right]
            while cells and cells[-1] == "":
                cells.pop()
            out.append(cells)
        while out and not out[-1]:
            out.pop()
        return out

    def properties(self, index: int) -> dict[str, Any]:
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {name: n for name, n in self.grid_properties.items() if n},
        }


@dataclass
class _Spreadsheet:
    spreadsheet_id: str
    title: str
    sheets: list[_Worksheet]
    formulas_entered: int = 0  # formulaValue cells written by the batchUpdate being applied

    def find(self, title: str) -> _Worksheet | None:
        return next((sheet for sheet in self.sheets if sheet.title == title), None)

    def next_sheet_id(self) -> int:
        return max((sheet.sheet_id for sheet in self.sheets), default=-1) + 1


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: str | None


@dataclass(frozen=True)
class _PlannedWrite:
    """A validated write; batches validate every item before applying any (atomicity)."""

    sheet: _Worksheet
    top: int
    left: int
    values: list[list[Cell | None]]
    user_entered: bool

    @property
    def height(self) -> int:
        return len(self.values)

    @property
    def width(self) -> int:
        return max((len(row) for row in self.values), default=0)


# -- HTTP plumbing -------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Moves bytes only; FakeGoogleSheets._respond() decides what to answer."""

    disable_nagle_algorithm = True  # headers and body go in two sends: no 40 ms stall
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle or stuck client cannot hold a thread forever
    server: TrackedServer

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            status, payload, headers = 413, _ApiError(413, "Request too large").payload(), {}
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


# -- the fake ------------------------------------------------------------------------------


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
        self._spreadsheets: dict[str, _Spreadsheet] = {}
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

    # -- connection details ------------------------------------------------------------------

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

    # -- state helpers -----------------------------------------------------------------------

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
        sheets = [_Worksheet(index, sheet) for index, sheet in enumerate(sheet_titles)]
        with self._lock:
            if spreadsheet_id in self._spreadsheets:
                raise ValueError(f"spreadsheet {spreadsheet_id!r} already exists")
            self._spreadsheets[spreadsheet_id] = _Spreadsheet(
                spreadsheet_id, title or f"Spreadsheet {spreadsheet_id}", sheets
            )

    def grid(self, spreadsheet_id: str, title: str) -> list[list[Cell]]:
        """Stored values of a worksheet, trimmed like Google (no trailing empties)."""
        with self._lock:
            sheet = self._sheet(spreadsheet_id, title)
            return sheet.values(0, 0, len(sheet.rows), sheet.column_count)

    def set_grid(self, spreadsheet_id: str, title: str, rows: Sequence[Sequence[Cell]]) -> None:
        """Replace a worksheet's values verbatim (no parsing); the grid grows to fit."""
        copied = [[_normalise_number(cell) for cell in row] for row in rows]
        with self._lock:
            sheet = self._sheet(spreadsheet_id, title)
            sheet.rows = copied
            sheet.grow(len(copied), max((len(row) for row in copied), default=0))

    def grid_size(self, spreadsheet_id: str, title: str) -> tuple[int, int]:
        """(rowCount, columnCount) as the metadata reports them."""
        with self._lock:
            sheet = self._sheet(spreadsheet_id, title)
            return sheet.row_count, sheet.column_count

    def sheet_titles(self, spreadsheet_id: str) -> list[str]:
        with self._lock:
            return [sheet.title for sheet in self._spreadsheets[spreadsheet_id].sheets]

    def _sheet(self, spreadsheet_id: str, title: str) -> _Worksheet:
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

    # -- request handling --------------------------------------------------------------------

    def _respond(
        self, method: str, target: str, headers: Message, body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON payload, extra headers) for one request; never raises."""
        try:
            if urlsplit(target).path == "/token":
                return self._token(method, body)
            return 200, self._sheets_call(method, target, headers, body), {}
        except _ApiError as error:
            return error.code, error.payload(), error.headers
        except Exception as error:  # a bug in the fake must reach the test, not vanish
            return 500, _ApiError(500, f"fake Sheets crashed: {error!r}").payload(), {}

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

    def _sheets_call(
        self, method: str, target: str, headers: Message, body: bytes
    ) -> dict[str, Any]:
        with self._lock:
            self._sheet_requests.append((method, target))
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            raise _ApiError(fault.status, headers=extra)
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        with self._lock:
            authorised = scheme.lower() == "bearer" and token in self._tokens
        if not authorised:
            raise _ApiError(
                401, headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
            )

        split = urlsplit(target)
        query = parse_qs(split.query, keep_blank_values=True)
        payload = _json_body(body)
        if not split.path.startswith(_SPREADSHEETS_PREFIX):
            raise _ApiError(404, f"fake Sheets: no route for {method} {split.path}")
        segments = split.path[len(_SPREADSHEETS_PREFIX) :].split("/")
        spreadsheet_id, _, verb = unquote(segments[0]).partition(":")
        with self._lock:
            spreadsheet = self._spreadsheets.get(spreadsheet_id)
            if spreadsheet is None:
                raise _ApiError(404)
            return self._route(method, spreadsheet, verb, segments[1:], query, payload)

    def _route(
        self,
        method: str,
        spreadsheet: _Spreadsheet,
        verb: str,
        segments: list[str],
        query: dict[str, list[str]],
        payload: dict[str, Any],
    ) -> dict[str, Any]:
        if not segments:
            if method == "GET" and not verb:
                return self._metadata(spreadsheet)
            if method == "POST" and verb == "batchUpdate":
                return self._batch_update(spreadsheet, payload)
        elif segments[0] == "values:batchGet" and method == "GET":
            return self._values_batch_get(spreadsheet, query)
        elif segments[0] == "values:batchUpdate" and method == "POST":
            return self._values_batch_update(spreadsheet, payload)
        elif segments[0] == "values:batchClear" and method == "POST":
            return self._values_batch_clear(spreadsheet, payload)
        elif segments[0] == "values" and len(segments) > 1:
            # gspread quotes the range with safe="", so a literal ':' can only start a verb.
            raw_range = "/".join(segments[1:])
            for suffix in (":append", ":clear"):
                if raw_range.endswith(suffix):
                    raw_range, range_verb = raw_range[: -len(suffix)], suffix[1:]
                    break
            else:
                range_verb = ""
            range_text = unquote(raw_range)
            if method == "GET" and not range_verb:
                return self._values_get(spreadsheet, range_text, query)
            if method == "PUT" and not range_verb:
                return self._values_update(spreadsheet, range_text, query, payload)
            if method == "POST" and range_verb == "append":
                return self._values_append(spreadsheet, range_text, query, payload)
            if method == "POST" and range_verb == "clear":
                return self._values_clear(spreadsheet, range_text)
        raise _ApiError(404, f"fake Sheets: no route for {method} {'/'.join(segments)}")

    # -- endpoints ---------------------------------------------------------------------------

    def _metadata(self, spreadsheet: _Spreadsheet) -> dict[str, Any]:
        book_id = spreadsheet.spreadsheet_id
        return {
            "spreadsheetId": book_id,
            "properties": {
                "title": spreadsheet.title,
                "locale": "en_US",
                "autoRecalc": "ON_CHANGE",
                "timeZone": "Etc/GMT",
            },
            "sheets": [
                {"properties": sheet.properties(index)}
                for index, sheet in enumerate(spreadsheet.sheets)
            ],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book_id}/edit",
        }

    def _values_get(
        self, spreadsheet: _Spreadsheet, range_text: str, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        render = _param(query, "valueRenderOption", "FORMATTED_VALUE")
        _require_rows(_param(query, "majorDimension", "ROWS"))
        return self._value_range(spreadsheet, range_text, render)

    def _values_batch_get(
        self, spreadsheet: _Spreadsheet, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        render = _param(query, "valueRenderOption", "FORMATTED_VALUE")
        _require_rows(_param(query, "majorDimension", "ROWS"))
        ranges = [self._value_range(spreadsheet, text, render) for text in query.get("ranges", [])]
        answer: dict[str, Any] = {"spreadsheetId": spreadsheet.spreadsheet_id}
        if ranges:
            answer["valueRanges"] = ranges
        return answer

    def _value_range(self, spreadsheet: _Spreadsheet, text: str, render: str) -> dict[str, Any]:
        if render not in _RENDER_OPTIONS:
            raise _ApiError(400, f"Invalid value at 'value_render_option' ({render})")
        sheet, rect = _resolve(spreadsheet, text)
        top, left, bottom, right = _read_bounds(sheet, rect)
        values: list[list[Any]] = sheet.values(top, left, bottom, right)
        if render == "FORMATTED_VALUE":
            values = [[_formatted(cell) for cell in row] for row in values]
        answer: dict[str, Any] = {
            "range": _format_range(sheet.title, top, left, bottom, right),
            "majorDimension": "ROWS",
        }
        if values:
            answer["values"] = values
        return answer

    def _values_update(
        self,
        spreadsheet: _Spreadsheet,
        range_text: str,
        query: dict[str, list[str]],
        payload: dict[str, Any],
    ) -> dict[str, Any]:
        user_entered = _input_option(_param(query, "valueInputOption", None))
        _require_rows(payload.get("majorDimension") or "ROWS")
        plan = self._plan_write(spreadsheet, range_text, payload.get("values"), user_entered)
        summary = self._apply_write(plan)
        return {"spreadsheetId": spreadsheet.spreadsheet_id, **summary}

    def _values_batch_update(
        self, spreadsheet: _Spreadsheet, payload: dict[str, Any]
    ) -> dict[str, Any]:
        user_entered = _input_option(payload.get("valueInputOption"))
        data = payload.get("data") or []
        if not isinstance(data, list):
            raise _ApiError(400, "Invalid value at 'data' (type.googleapis.com/ValueRange)")
        plans = []
        for item in data:
            if not isinstance(item, dict):
                raise _ApiError(400, "Invalid value at 'data' (type.googleapis.com/ValueRange)")
            _require_rows(item.get("majorDimension") or "ROWS")
            range_text = str(item.get("range", ""))
            plans.append(
                self._plan_write(spreadsheet, range_text, item.get("values"), user_entered)
            )
        responses = [
            {"spreadsheetId": spreadsheet.spreadsheet_id, **self._apply_write(plan)}
            for plan in plans
        ]
        totals = {
            "totalUpdatedRows": sum(r.get("updatedRows", 0) for r in responses),
            "totalUpdatedColumns": sum(r.get("updatedColumns", 0) for r in responses),
            "totalUpdatedCells": sum(r.get("updatedCells", 0) for r in responses),
            "totalUpdatedSheets": len({id(plan.sheet) for plan in plans if plan.height}),
        }
        answer: dict[str, Any] = {"spreadsheetId": spreadsheet.spreadsheet_id}
        answer.update({name: value for name, value in totals.items() if value})
        if responses:
            answer["responses"] = responses
        return answer

    def _values_append(
        self,
        spreadsheet: _Spreadsheet,
        range_text: str,
        query: dict[str, list[str]],
        payload: dict[str, Any],
    ) -> dict[str, Any]:
        """Append after the 'table' found in the range.

        Simplified rule: the table is the first run of non-empty rows at or below the range's
        top, within its columns; new rows start at the table's first column (or at the
        range's corner when there is no table). INSERT_ROWS shifts the rows below down.
        """
        user_entered = _input_option(_param(query, "valueInputOption", None))
        insert = _param(query, "insertDataOption", "OVERWRITE")
        if insert not in ("OVERWRITE", "INSERT_ROWS"):
            raise _ApiError(400, f"Invalid value at 'insert_data_option' ({insert})")
        _require_rows(payload.get("majorDimension") or "ROWS")
        sheet, rect = _resolve(spreadsheet, range_text)
        rect = rect or _WHOLE_SHEET
        values = _checked_values(payload.get("values"), "data.values")
        window_right = None if rect.anchor else rect.right
        window_bottom = None if rect.anchor else rect.bottom

        def filled_columns(row: int) -> list[int]:
            cells = sheet.rows[row][rect.left : window_right] if row < len(sheet.rows) else []
            return [rect.left + c for c, cell in enumerate(cells) if cell != ""]

        last_row = min(len(sheet.rows), window_bottom or len(sheet.rows))
        first = next((r for r in range(rect.top, last_row) if filled_columns(r)), None)
        answer: dict[str, Any] = {"spreadsheetId": spreadsheet.spreadsheet_id}
        if first is None:
            top, left = rect.top, rect.left
        else:
            end = first
            while end < last_row and filled_columns(end):
                end += 1
            columns = [c for r in range(first, end) for c in filled_columns(r)]
            top, left = end, min(columns)
            answer["tableRange"] = _format_range(sheet.title, first, left, end, max(columns) + 1)
        if insert == "INSERT_ROWS" and values:
            sheet.insert_rows(top, len(values))
        plan = _PlannedWrite(sheet, top, left, values, user_entered)
        answer["updates"] = {"spreadsheetId": spreadsheet.spreadsheet_id, **self._apply_write(plan)}
        return answer

    def _values_clear(self, spreadsheet: _Spreadsheet, range_text: str) -> dict[str, Any]:
        cleared = self._clear(spreadsheet, range_text)
        return {"spreadsheetId": spreadsheet.spreadsheet_id, "clearedRange": cleared}

    def _values_batch_clear(
        self, spreadsheet: _Spreadsheet, payload: dict[str, Any]
    ) -> dict[str, Any]:
        ranges = payload.get("ranges") or []
        for text in ranges:  # validate all before clearing any
            _read_bounds(*_resolve(spreadsheet, str(text)))
        cleared = [self._clear(spreadsheet, str(text)) for text in ranges]
        return {"spreadsheetId": spreadsheet.spreadsheet_id, "clearedRanges": cleared}

    def _clear(self, spreadsheet: _Spreadsheet, text: str) -> str:
        sheet, rect = _resolve(spreadsheet, text)
        top, left, bottom, right = _read_bounds(sheet, rect)
        for row in sheet.rows[top:bottom]:
            for column in range(left, min(right, len(row))):
                row[column] = ""
        return _format_range(sheet.title, top, left, bottom, right)

    def _batch_update(self, spreadsheet: _Spreadsheet, payload: dict[str, Any]) -> dict[str, Any]:
        """spreadsheets:batchUpdate: updateCells, addSheet, deleteSheet, updateSheetProperties;
        atomic."""
        work = [sheet.clone() for sheet in spreadsheet.sheets]
        draft = _Spreadsheet(spreadsheet.spreadsheet_id, spreadsheet.title, work)
        replies: list[dict[str, Any]] = []
        for number, request in enumerate(payload.get("requests") or []):
            if not isinstance(request, dict) or len(request) != 1:
                raise _ApiError(400, f"Invalid requests[{number}]: set exactly one request kind")
            [(kind, spec)] = request.items()
            action = _SHEET_REQUESTS.get(kind)
            if action is None:
                raise _ApiError(400, f"fake Sheets does not support batchUpdate request {kind!r}")
            try:
                replies.append(action(draft, spec or {}))
            except _ApiError as error:
                message = f"Invalid requests[{number}].{kind}: {error.message}"
                raise _ApiError(400, message) from None
        spreadsheet.sheets = draft.sheets
        self._formulas_evaluated += draft.formulas_entered
        return {"spreadsheetId": spreadsheet.spreadsheet_id, "replies": replies}

    # -- writes ------------------------------------------------------------------------------

    def _plan_write(
        self, spreadsheet: _Spreadsheet, text: str, raw_values: object, user_entered: bool
    ) -> _PlannedWrite:
        sheet, rect = _resolve(spreadsheet, text)
        rect = rect or _WHOLE_SHEET
        plan = _PlannedWrite(
            sheet, rect.top, rect.left, _checked_values(raw_values, "data.values"), user_entered
        )
        if not rect.anchor:
            bottom = rect.bottom or max(sheet.row_count, rect.top + 1)
            right = rect.right or max(sheet.column_count, rect.left + 1)
            requested = _format_range(sheet.title, rect.top, rect.left, bottom, right)
            if rect.bottom is not None and rect.top + plan.height > rect.bottom:
                raise _ApiError(
                    400,
                    f"Requested writing within range [{requested}], but tried writing to row "
                    f"[{rect.top + plan.height}]",
                )
            if rect.right is not None and rect.left + plan.width > rect.right:
                raise _ApiError(
                    400,
                    f"Requested writing within range [{requested}], but tried writing to column "
                    f"[{_column_letters(rect.left + plan.width - 1)}]",
                )
        bottom, right = plan.top + plan.height, plan.left + plan.width
        if self._strict_grid and (bottom > sheet.row_count or right > sheet.column_count):
            raise _ApiError(400, _grid_limit_message(sheet, plan.top, plan.left, bottom, right))
        return plan

    def _apply_write(self, plan: _PlannedWrite) -> dict[str, Any]:
        sheet = plan.sheet
        sheet.grow(plan.top + plan.height, plan.left + plan.width)
        cells = 0
        for r, row in enumerate(plan.values):
            for c, value in enumerate(row):
                if value is None:  # null leaves the cell as it is, as in the real API
                    continue
                if plan.user_entered:
                    stored, is_formula = _user_entered(value)
                    self._formulas_evaluated += is_formula
                else:
                    stored = _normalise_number(value)
                sheet.put(plan.top + r, plan.left + c, stored)
                cells += 1
        summary: dict[str, Any] = {
            "updatedRange": _format_range(
                sheet.title, plan.top, plan.left, plan.top + plan.height, plan.left + plan.width
            )
        }
        counts = {"updatedRows": plan.height, "updatedColumns": plan.width, "updatedCells": cells}
        summary.update({name: value for name, value in counts.items() if value})
        return summary


# -- module helpers ------------------------------------------------------------------------


def _param(query: Mapping[str, list[str]], name: str, default: str | None) -> Any:
    values = query.get(name)
    return values[-1] if values else default


def _require_rows(major_dimension: str) -> None:
    if major_dimension != "ROWS":
        message = f"fake Sheets supports majorDimension=ROWS only, got {major_dimension!r}"
        raise _ApiError(400, message)


def _input_option(option: str | None) -> bool:
    """True for USER_ENTERED; Google refuses a write without valueInputOption."""
    if option is None:
        raise _ApiError(400, "'valueInputOption' is required but not specified")
    if option not in _INPUT_OPTIONS:
        raise _ApiError(400, f"Invalid value at 'value_input_option' ({option})")
    return option == "USER_ENTERED"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON for Google")


def _json_body(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except ValueError:
        raise _ApiError(400, "Invalid JSON payload received.") from None
    if not isinstance(payload, dict):
        raise _ApiError(400, "Invalid JSON payload received. Expected an object.")
    return payload


def _resolve(spreadsheet: _Spreadsheet, text: str) -> tuple[_Worksheet, _Rect | None]:
    """Worksheet and rectangle named by a range; None rectangle means the whole sheet."""
    unparsable = _ApiError(400, f"Unable to parse range: {text}")
    try:
        title, a1 = _split_sheet(text)
    except ValueError:
        raise unparsable from None
    if title is None:
        sheet = spreadsheet.find(text)  # a bare title is the whole sheet...
        if sheet is not None:
            return sheet, None
        sheet = spreadsheet.sheets[0]  # ...and a bare A1 range is on the first sheet
    else:
        sheet = spreadsheet.find(title)
        if sheet is None:
            raise unparsable
    if a1 is None:
        return sheet, None
    try:
        return sheet, _parse_a1(a1)
    except ValueError:
        raise unparsable from None


def _read_bounds(sheet: _Worksheet, rect: _Rect | None) -> tuple[int, int, int, int]:
    """Concrete rectangle for reading/clearing; Google refuses ranges past the grid."""
    rect = rect or _WHOLE_SHEET
    bottom = sheet.row_count if rect.bottom is None else rect.bottom
    right = sheet.column_count if rect.right is None else rect.right
    if (
        bottom > sheet.row_count
        or right > sheet.column_count
        or rect.top >= sheet.row_count
        or rect.left >= sheet.column_count
    ):
        raise _ApiError(400, _grid_limit_message(sheet, rect.top, rect.left, bottom, right))
    return rect.top, rect.left, bottom, right


def _grid_limit_message(sheet: _Worksheet, top: int, left: int, bottom: int, right: int) -> str:
    return (
        f"Range ({_format_range(sheet.title, top, left, bottom, right)}) exceeds grid limits. "
        f"Max rows: {sheet.row_count}, max columns: {sheet.column_count}"
    )


def _add_sheet(draft: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    """addSheet; the reply carries the new sheet's properties, as Google's does."""
    properties = spec.get("properties") or {}
    title = properties.get("title")
    if not title:
        number = len(draft.sheets) + 1
        while draft.find(f"Sheet{number}") is not None:
            number += 1
        title = f"Sheet{number}"
    if draft.find(title) is not None:
        raise _ApiError(
            400,
            f'A sheet with the name "{title}" already exists. Please enter another name.',
        )
    sheet_id = properties.get("sheetId", draft.next_sheet_id())
    if any(sheet.sheet_id == sheet_id for sheet in draft.sheets):
        raise _ApiError(400, f"Sheet with id {sheet_id} already exists.")
    grid = properties.get("gridProperties") or {}
    sheet = _Worksheet(sheet_id, title)
    sheet.grid_properties.update((name, int(grid[name])) for name in _GRID_FIELDS if name in grid)
    index = min(int(properties.get("index", len(draft.sheets))), len(draft.sheets))
    draft.sheets.insert(index, sheet)
    return {"addSheet": {"properties": sheet.properties(index)}}


def _sheet_by_id(draft: _Spreadsheet, sheet_id: object) -> _Worksheet:
    sheet = next((sheet for sheet in draft.sheets if sheet.sheet_id == sheet_id), None)
    if sheet is None:
        raise _ApiError(400, f"No grid with id: {sheet_id}")
    return sheet


def _delete_sheet(draft: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    sheet = _sheet_by_id(draft, spec.get("sheetId"))
    if len(draft.sheets) == 1:
        raise _ApiError(400, "You can't remove all the sheets in a document.")
    draft.sheets.remove(sheet)
    return {}


def _update_sheet_properties(draft: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    """The fields gspread's update_title, update_index, resize and freeze send.

    Other fields answer 400 so a test finds out the fake lacks them, instead of passing.
    """
    properties = spec.get("properties") or {}
    masks = str(spec.get("fields") or "").replace("/", ".").split(",")
    fields = {mask.strip() for mask in masks if mask.strip()}
    if not fields:
        raise _ApiError(400, "At least one field must be updated, but none were specified")
    if "*" in fields:
        fields = {"title", "index", "gridProperties"}
    grid_fields = {f"gridProperties.{name}": name for name in _GRID_FIELDS}
    if "gridProperties" in fields:
        fields = (fields - {"gridProperties"}) | set(grid_fields)
    unsupported = fields - {"title", "index"} - set(grid_fields)
    if unsupported:
        raise _ApiError(400, f"fake Sheets cannot update sheet fields {sorted(unsupported)}")
    sheet = _sheet_by_id(draft, properties.get("sheetId"))
    if "title" in fields:
        title = properties.get("title", sheet.title)
        clash = draft.find(title)
        if clash is not None and clash is not sheet:
            message = f'A sheet with the name "{title}" already exists. Please enter another name.'
            raise _ApiError(400, message)
        sheet.title = title
    grid = properties.get("gridProperties") or {}
    for mask, name in grid_fields.items():
        if mask in fields and name in grid:
            sheet.grid_properties[name] = int(grid[name])
    sheet.truncate()
    if "index" in fields and "index" in properties:
        draft.sheets.remove(sheet)
        draft.sheets.insert(min(int(properties["index"]), len(draft.sheets)), sheet)
    return {}


def _update_cells(draft: _Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
    """updateCells with `fields: userEnteredValue`, as Google applies it: never past the grid.

    A `formulaValue` counts as an evaluated formula; `stringValue` is stored as text.
    """
    if str(spec.get("fields")) != "userEnteredValue":
        raise _ApiError(400, "fake Sheets supports updateCells only with fields=userEnteredValue")
    start = spec.get("start") or {}
    sheet = _sheet_by_id(draft, start.get("sheetId"))
    top, left = int(start.get("rowIndex", 0)), int(start.get("columnIndex", 0))
    rows = [row.get("values") or [] for row in spec.get("rows") or []]
    bottom = top + len(rows)
    right = left + max((len(values) for values in rows), default=0)
    if bottom > sheet.row_count or right > sheet.column_count:
        raise _ApiError(400, _grid_limit_message(sheet, top, left, bottom, right))
    for r, values in enumerate(rows):
        for c, cell in enumerate(values):
            entered = cell.get("userEnteredValue") or {}
            if "formulaValue" in entered:
                draft.formulas_entered += 1
            [(kind, value)] = entered.items() if entered else [("stringValue", "")]
            sheet.grow(top + r + 1, left + c + 1)
            stored = _normalise_number(value) if kind == "numberValue" else value
            sheet.put(top + r, left + c, stored)
    return {}


_SHEET_REQUESTS: dict[str, Callable[[_Spreadsheet, dict[str, Any]], dict[str, Any]]] = {
    "updateCells": _update_cells,
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
}
