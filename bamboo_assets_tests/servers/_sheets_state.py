"""What the fake Google Sheets holds and how Google changes it: worksheets with values, number
formats, charts and developer metadata; A1 ranges; `spreadsheets.batchUpdate` requests; the
`fields` partial-response mask.

Only what Bamboo's dashboard, its benchmark (the notebook's gspread calls) and the tests use
is here; anything else answers 400 so a test finds out the fake lacks it instead of passing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

Cell = str | int | float | bool
Json = dict[str, Any]

DEFAULT_ROWS = 1000
DEFAULT_COLUMNS = 26
SERIAL_EPOCH = date(1899, 12, 30)  # day 0 of spreadsheet date serial numbers

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_STATUS_MESSAGES = {
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential.",
    404: "Requested entity was not found.",
    429: "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per "
    "minute per user' of service 'sheets.googleapis.com' for consumer 'project_number:0'.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_CELL_REF = re.compile(r"\$?([A-Za-z]{0,3})\$?(\d{0,7})")
_PLAIN_TITLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REF_LIKE_TITLE = re.compile(r"[A-Za-z]{1,3}\d*|[Rr]\d*[Cc]\d*")


class SheetsError(Exception):
    """An error answered in Google's JSON shape, which gspread's APIError parses."""

    def __init__(
        self, code: int, message: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message or _STATUS_MESSAGES.get(code, f"HTTP {code}")
        self.headers = headers or {}

    def payload(self) -> Json:
        status = _STATUS_NAMES.get(self.code, "UNKNOWN")
        return {"error": {"code": self.code, "message": self.message, "status": status}}


# -- A1 notation (the notebook's gspread calls) -----------------------------------------------


@dataclass(frozen=True)
class Rect:
    """Zero-based, half-open cell rectangle; None means unbounded on that side. Writes start
    at its corner and may spill past it, as Google allows for a single cell."""

    top: int
    left: int
    bottom: int | None
    right: int | None


WHOLE_SHEET = Rect(0, 0, None, None)


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


def _parse_a1(text: str) -> Rect:
    """A1 part of a range: 'A5', 'A1:F10', 'A:B', '1:1', 'A1:1' (open-ended columns)."""
    parts = text.split(":")
    if len(parts) == 1:
        column, row = _cell_ref(parts[0])
        if column is None or row is None:
            raise ValueError(text)
        return Rect(row, column, row + 1, column + 1)
    if len(parts) != 2:
        raise ValueError(text)
    (c1, r1), (c2, r2) = _cell_ref(parts[0]), _cell_ref(parts[1])
    return Rect(
        top=r1 if r1 is not None else 0,
        left=c1 if c1 is not None else 0,
        bottom=r2 + 1 if r2 is not None else None,
        right=c2 + 1 if c2 is not None else None,
    )


def _split_sheet(text: str) -> tuple[str | None, str | None]:
    """ "'It''s'!A1" -> ("It's", "A1"); "Sheet1" -> (None, "Sheet1"), resolved later."""
    if text.startswith("'"):
        end = re.match(r"'((?:[^']|'')*)'", text)
        if end is None:
            raise ValueError(text)
        title, rest = end[1].replace("''", "'"), text[end.end() :]
        if not rest:
            return title, None
        if rest.startswith("!") and len(rest) > 1:
            return title, rest[1:]
        raise ValueError(text)
    if "!" in text:
        title, _, a1 = text.rpartition("!")
        if not title or not a1:
            raise ValueError(text)
        return title, a1
    return None, text


def _quote_title(title: str) -> str:
    """Quote a title as Google does in answers: only when it could be misread."""
    if _PLAIN_TITLE.fullmatch(title) and not _REF_LIKE_TITLE.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def format_range(title: str, top: int, left: int, bottom: int, right: int) -> str:
    bottom, right = max(bottom, top + 1), max(right, left + 1)
    a1 = f"{_column_letters(left)}{top + 1}"
    if (bottom - top, right - left) != (1, 1):
        a1 += f":{_column_letters(right - 1)}{bottom}"
    return f"{_quote_title(title)}!{a1}"


# -- cell values -------------------------------------------------------------------------------


def normalise_number(value: Cell) -> Cell:
    """Google keeps numbers as doubles: 3.0 and 3 are the same cell, answered as 3."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def user_entered(value: Cell) -> tuple[Cell, bool]:
    """Parse like a user typing into the UI; returns (stored value, is a formula)."""
    if not isinstance(value, str):
        return normalise_number(value), False
    if value.startswith("="):
        return value, True
    if value.startswith("'"):
        return value[1:], False
    text = value.strip()
    if _NUMBER.fullmatch(text):
        if _INTEGER.fullmatch(text) and abs(int(text)) < 2**53:
            return int(text), False
        return normalise_number(float(text)), False
    return value, False


def formatted(value: Cell, number_format: Json | None = None) -> str:
    """FORMATTED_VALUE rendering: DATE formats with yyyy, mm and dd; other numbers approximate
    Google's 'Automatic' format."""
    if number_format and number_format.get("type") == "DATE" and isinstance(value, int | float):
        day = SERIAL_EPOCH + timedelta(days=int(value))
        pattern = str(number_format.get("pattern") or "yyyy-mm-dd")
        return (
            pattern.replace("yyyy", f"{day:%Y}")
            .replace("mm", f"{day:%m}")
            .replace("dd", f"{day:%d}")
        )
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return repr(value).replace("e+", "E+").replace("e-", "E-")
    return str(value)


def _extended_value(value: Cell) -> Json:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        return {"numberValue": value}
    return {"stringValue": value}


def proto_json(value: Any) -> Any:
    """JSON as Google's protobuf encoder writes it: zero, empty and false fields left out."""
    if isinstance(value, dict):
        kept = {key: proto_json(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (0, "", False, {}, [])}
    if isinstance(value, list):
        return [proto_json(item) for item in value]
    return value


# -- state -------------------------------------------------------------------------------------


@dataclass
class Worksheet:
    sheet_id: int
    title: str
    rows: list[list[Cell]] = field(default_factory=list)
    row_count: int = DEFAULT_ROWS
    column_count: int = DEFAULT_COLUMNS
    number_formats: dict[tuple[int, int], Json] = field(default_factory=dict)
    charts: list[Json] = field(default_factory=list)
    developer_metadata: list[Json] = field(default_factory=list)

    def clone(self) -> Worksheet:
        return copy.deepcopy(self)

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

    def properties(self, index: int) -> Json:
        grid = {"rowCount": self.row_count, "columnCount": self.column_count}
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": grid,
        }

    def cell_data(self, row: int, column: int) -> Json:
        """A CellData as spreadsheets.get answers it; formulas are not evaluated."""
        cells = self.rows[row] if row < len(self.rows) else []
        value = cells[column] if column < len(cells) else ""
        number_format = self.number_formats.get((row, column))
        cell: Json = {}
        if value != "":
            cell["userEnteredValue"] = cell["effectiveValue"] = _extended_value(value)
            cell["formattedValue"] = formatted(value, number_format)
        if number_format:
            cell["userEnteredFormat"] = {"numberFormat": dict(number_format)}
        return cell

    def as_json(self, index: int, grid_data: bool) -> Json:
        sheet: Json = {"properties": self.properties(index)}
        if self.charts:
            sheet["charts"] = copy.deepcopy(self.charts)
        if self.developer_metadata:
            sheet["developerMetadata"] = copy.deepcopy(self.developer_metadata)
        if grid_data:
            height = max([len(self.rows)] + [r + 1 for r, _ in self.number_formats])
            width = max([0] + [len(r) for r in self.rows] + [c + 1 for _, c in self.number_formats])
            rows = []
            for r in range(min(height, self.row_count)):
                cells = [self.cell_data(r, c) for c in range(min(width, self.column_count))]
                while cells and not cells[-1]:
                    cells.pop()
                rows.append({"values": cells} if cells else {})
            sheet["data"] = [{"rowData": rows}] if rows else [{}]
        return sheet


@dataclass
class Spreadsheet:
    spreadsheet_id: str
    title: str
    sheets: list[Worksheet]
    formulas_entered: int = 0  # formulaValue cells written by the batchUpdate being applied
    next_metadata_id: int = 1

    def find(self, title: str) -> Worksheet | None:
        return next((sheet for sheet in self.sheets if sheet.title == title), None)

    def by_id(self, sheet_id: object) -> Worksheet:
        sheet = next((sheet for sheet in self.sheets if sheet.sheet_id == sheet_id), None)
        if sheet is None:
            raise SheetsError(400, f"No grid with id: {sheet_id}")
        return sheet

    def chart_ids(self) -> set[int]:
        return {chart["chartId"] for sheet in self.sheets for chart in sheet.charts}

    def as_json(self, titles: list[str] | None, grid_data: bool) -> Json:
        """A Spreadsheet resource; `titles` limits it to those worksheets (`ranges`)."""
        chosen = [
            sheet.as_json(index, grid_data)
            for index, sheet in enumerate(self.sheets)
            if titles is None or sheet.title in titles
        ]
        book_id = self.spreadsheet_id
        return {
            "spreadsheetId": book_id,
            "properties": {"title": self.title, "locale": "en_US", "timeZone": "Etc/GMT"},
            "sheets": chosen,
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book_id}/edit",
        }


def resolve(spreadsheet: Spreadsheet, text: str) -> tuple[Worksheet, Rect | None]:
    """Worksheet and rectangle named by a range; None rectangle means the whole sheet."""
    unparsable = SheetsError(400, f"Unable to parse range: {text}")
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


def read_bounds(sheet: Worksheet, rect: Rect | None) -> tuple[int, int, int, int]:
    """Concrete rectangle for reading; Google refuses ranges past the grid."""
    rect = rect or WHOLE_SHEET
    bottom = sheet.row_count if rect.bottom is None else rect.bottom
    right = sheet.column_count if rect.right is None else rect.right
    if bottom > sheet.row_count or right > sheet.column_count:
        raise SheetsError(400, grid_limit_message(sheet, rect.top, rect.left, bottom, right))
    return rect.top, rect.left, bottom, right


def grid_limit_message(sheet: Worksheet, top: int, left: int, bottom: int, right: int) -> str:
    return (
        f"Range ({format_range(sheet.title, top, left, bottom, right)}) exceeds grid limits. "
        f"Max rows: {sheet.row_count}, max columns: {sheet.column_count}"
    )


# -- the `fields` mask -------------------------------------------------------------------------

Mask = dict[str, "Mask | None"]  # None: the whole field


def parse_fields(text: str) -> Mask:
    """`a,b(c,d.e)` → {"a": None, "b": {"c": None, "d": {"e": None}}}, Google's syntax."""
    mask, rest = _parse_mask(text.replace(" ", ""), 0)
    if rest != len(text.replace(" ", "")):
        raise SheetsError(400, f"Invalid field selection {text}")
    return mask


def _parse_mask(text: str, at: int) -> tuple[Mask, int]:
    mask: Mask = {}
    while at < len(text) and text[at] != ")":
        name = re.match(r"[A-Za-z0-9_*]+(?:\.[A-Za-z0-9_*]+)*", text[at:])
        if name is None:
            raise SheetsError(400, f"Invalid field selection {text}")
        at += name.end()
        path = name[0].split(".")
        sub: Mask | None = None
        if at < len(text) and text[at] == "(":
            sub, at = _parse_mask(text, at + 1)
            if at >= len(text) or text[at] != ")":
                raise SheetsError(400, f"Invalid field selection {text}")
            at += 1
        for key in reversed(path[1:]):
            sub = {key: sub}
        _merge(mask, path[0], sub)
        if at < len(text) and text[at] == ",":
            at += 1
    return mask, at


def _merge(mask: Mask, key: str, sub: Mask | None) -> None:
    if key in mask and mask[key] is not None and sub is not None:
        for name, inner in sub.items():
            _merge(mask[key], name, inner)  # type: ignore[arg-type]
    else:
        mask[key] = None if key in mask and mask[key] is None else sub


def apply_fields(value: Any, mask: Mask | None) -> Any:
    """The partial response Google sends for a `fields` mask."""
    if mask is None or "*" in mask:
        return value
    if isinstance(value, list):
        return [apply_fields(item, mask) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: apply_fields(value[key], sub) for key, sub in mask.items() if key in value}


# -- spreadsheets.batchUpdate requests ---------------------------------------------------------


def _add_sheet(draft: Spreadsheet, spec: Json) -> Json:
    properties = spec.get("properties") or {}
    title = properties.get("title") or f"Sheet{len(draft.sheets) + 1}"
    if draft.find(title) is not None:
        message = f'A sheet with the name "{title}" already exists. Please enter another name.'
        raise SheetsError(400, message)
    sheet_id = properties.get("sheetId", max(s.sheet_id for s in draft.sheets) + 1)
    grid = properties.get("gridProperties") or {}
    sheet = Worksheet(sheet_id, title)
    sheet.row_count = int(grid.get("rowCount", DEFAULT_ROWS))
    sheet.column_count = int(grid.get("columnCount", DEFAULT_COLUMNS))
    draft.sheets.append(sheet)
    return {"addSheet": {"properties": sheet.properties(len(draft.sheets) - 1)}}


def _update_sheet_properties(draft: Spreadsheet, spec: Json) -> Json:
    """The grid size only (what Bamboo's resize sends)."""
    properties = spec.get("properties") or {}
    fields = {f.strip() for f in str(spec.get("fields") or "").split(",") if f.strip()}
    sizes = {"gridProperties.rowCount": "rowCount", "gridProperties.columnCount": "columnCount"}
    if not fields or fields - set(sizes):
        raise SheetsError(400, f"fake Sheets updates only the grid size, not {sorted(fields)}")
    sheet = draft.by_id(properties.get("sheetId"))
    grid = properties.get("gridProperties") or {}
    if "gridProperties.rowCount" in fields:
        sheet.row_count = int(grid.get("rowCount", 0))
    if "gridProperties.columnCount" in fields:
        sheet.column_count = int(grid.get("columnCount", 0))
    sheet.truncate()
    return {}


_CELL_FIELDS = {"userEnteredValue", "userEnteredFormat.numberFormat"}


def _update_cells(draft: Spreadsheet, spec: Json) -> Json:
    """updateCells of values and number formats, as Google applies it: never past the grid.

    A field in `fields` but absent from a cell clears it; a `formulaValue` counts as an
    evaluated formula; `stringValue` is stored as text.
    """
    fields = {f.strip() for f in str(spec.get("fields") or "").split(",") if f.strip()}
    if not fields or fields - _CELL_FIELDS:
        raise SheetsError(400, f"fake Sheets updates only {sorted(_CELL_FIELDS)} of cells")
    start = spec.get("start") or {}
    sheet = draft.by_id(start.get("sheetId"))
    top, left = int(start.get("rowIndex", 0)), int(start.get("columnIndex", 0))
    rows = [row.get("values") or [] for row in spec.get("rows") or []]
    bottom = top + len(rows)
    right = left + max((len(values) for values in rows), default=0)
    if bottom > sheet.row_count or right > sheet.column_count:
        raise SheetsError(400, grid_limit_message(sheet, top, left, bottom, right))
    for r, values in enumerate(rows):
        for c, cell in enumerate(values):
            where = (top + r, left + c)
            if "userEnteredValue" in fields:
                entered = cell.get("userEnteredValue") or {}
                if "formulaValue" in entered:
                    draft.formulas_entered += 1
                [(kind, value)] = entered.items() if entered else [("stringValue", "")]
                sheet.put(*where, normalise_number(value) if kind == "numberValue" else value)
            if "userEnteredFormat.numberFormat" in fields:
                number_format = (cell.get("userEnteredFormat") or {}).get("numberFormat")
                if number_format:
                    sheet.number_formats[where] = dict(number_format)
                else:
                    sheet.number_formats.pop(where, None)
    return {}


def _chart_sheet(draft: Spreadsheet, chart: Json) -> Worksheet:
    position = chart.get("position") or {}
    anchor = (position.get("overlayPosition") or {}).get("anchorCell")
    if anchor is None:
        raise SheetsError(400, "fake Sheets places charts by overlayPosition.anchorCell only")
    return draft.by_id(anchor.get("sheetId", 0))


def _add_chart(draft: Spreadsheet, spec: Json) -> Json:
    chart = copy.deepcopy(spec.get("chart") or {})
    if "spec" not in chart:
        raise SheetsError(400, "Invalid requests.addChart: chart.spec is required")
    sheet = _chart_sheet(draft, chart)
    taken = draft.chart_ids()
    if chart.get("chartId") in taken:
        raise SheetsError(400, f"An object with the ID {chart['chartId']} already exists.")
    chart.setdefault("chartId", max(taken, default=100_000) + 1)
    stored = proto_json(chart)
    sheet.charts.append(stored)
    return {"addChart": {"chart": copy.deepcopy(stored)}}


def _update_chart_spec(draft: Spreadsheet, spec: Json) -> Json:
    for sheet in draft.sheets:
        for chart in sheet.charts:
            if chart["chartId"] == spec.get("chartId"):
                chart["spec"] = proto_json(spec.get("spec") or {})
                return {}
    raise SheetsError(400, f"No chart with id: {spec.get('chartId')}")


def _create_developer_metadata(draft: Spreadsheet, spec: Json) -> Json:
    metadata = copy.deepcopy(spec.get("developerMetadata") or {})
    location = metadata.get("location") or {}
    if set(location) != {"sheetId"} or not metadata.get("metadataKey"):
        raise SheetsError(400, "fake Sheets keeps developer metadata on a sheet, with a key")
    sheet = draft.by_id(location["sheetId"])
    metadata["metadataId"] = draft.next_metadata_id
    metadata["location"] = {"locationType": "SHEET", "sheetId": sheet.sheet_id}
    metadata.setdefault("visibility", "DOCUMENT")
    draft.next_metadata_id += 1
    sheet.developer_metadata.append(metadata)
    return {"createDeveloperMetadata": {"developerMetadata": copy.deepcopy(metadata)}}


BATCH_REQUESTS: dict[str, Callable[[Spreadsheet, Json], Json]] = {
    "addSheet": _add_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "updateCells": _update_cells,
    "addChart": _add_chart,
    "updateChartSpec": _update_chart_spec,
    "createDeveloperMetadata": _create_developer_metadata,
}
