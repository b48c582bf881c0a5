"""The fake Google Sheets behaves like the real service where the other tests rely on it.

Driven with the real client libraries (gspread + google-auth), the way production wires them,
so a fake that drifted from Google's protocol fails here first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gspread
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from gspread.exceptions import APIError, SpreadsheetNotFound
from gspread.http_client import HTTPClient
from requests.adapters import HTTPAdapter

from bamboo_assets_tests.servers import FakeGoogleSheets

SHEETS_ORIGIN = "https://sheets.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
BOOK = "book-id"


class _RedirectAdapter(HTTPAdapter):
    """Sends what gspread addresses to https://sheets.googleapis.com to the fake instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self._base_url = base_url

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:  # type: ignore[override]
        assert request.url is not None and request.url.startswith(SHEETS_ORIGIN)
        request.url = self._base_url + request.url[len(SHEETS_ORIGIN) :]
        return super().send(request, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def sheets() -> Iterator[FakeGoogleSheets]:
    with FakeGoogleSheets() as fake:
        fake.add_spreadsheet(BOOK, ("Лист1", "It's data"))
        yield fake


@pytest.fixture
def session(sheets: FakeGoogleSheets, tmp_path: Path) -> Iterator[AuthorizedSession]:
    """The production wiring: service-account file -> AuthorizedSession -> redirected."""
    key_file = sheets.write_service_account_file(tmp_path / "service-account.json")
    credentials = service_account.Credentials.from_service_account_file(
        str(key_file), scopes=SCOPES
    )
    authorized = AuthorizedSession(credentials)
    authorized.mount(SHEETS_ORIGIN, _RedirectAdapter(sheets.base_url))
    with authorized:
        yield authorized


@pytest.fixture
def client(session: AuthorizedSession) -> HTTPClient:
    return HTTPClient(auth=None, session=session)  # type: ignore[arg-type]


def test_gspread_reads_and_writes_after_a_real_token_exchange(
    sheets: FakeGoogleSheets, session: AuthorizedSession, client: HTTPClient
) -> None:
    sheets.set_grid(BOOK, "Лист1", [["name", "score"], ["Ann", 7], ["Bob", 2.5]])

    metadata = client.fetch_sheet_metadata(BOOK)
    assert [s["properties"]["title"] for s in metadata["sheets"]] == ["Лист1", "It's data"]
    assert metadata["sheets"][0]["properties"]["gridProperties"] == {
        "rowCount": 1000,
        "columnCount": 26,
    }
    assert client.values_get(BOOK, "'Лист1'") == {
        "range": "'Лист1'!A1:Z1000",
        "majorDimension": "ROWS",
        "values": [["name", "score"], ["Ann", "7"], ["Bob", "2.5"]],
    }
    unformatted = client.values_get(
        BOOK, "'Лист1'!B2:B3", params={"valueRenderOption": "UNFORMATTED_VALUE"}
    )
    assert unformatted["values"] == [[7], [2.5]]

    written = client.values_update(
        BOOK,
        "'It''s data'!B2",
        params={"valueInputOption": "RAW"},
        body={"values": [["x", 1], ["y"]]},
    )
    assert written["updatedRange"] == "'It''s data'!B2:C3"
    assert written["updatedCells"] == 3
    assert sheets.grid(BOOK, "It's data") == [[], ["", "x", 1], ["", "y"]]

    # gspread's high-level API goes through the same HTTPClient.
    worksheet = gspread.Client(None, session=session).open_by_key(BOOK).worksheet("It's data")  # type: ignore[arg-type]
    assert worksheet.get_all_values() == [["", "", ""], ["", "x", "1"], ["", "y", ""]]

    assert sheets.token_requests == 1  # one JWT-bearer grant, reused for every call
    assert sheets.granted_scopes == SCOPES
    assert ("GET", f"/v4/spreadsheets/{BOOK}?includeGridData=false") in sheets.sheet_requests


def test_sheets_refuses_requests_without_a_token_from_its_own_key(
    sheets: FakeGoogleSheets,
) -> None:
    anonymous = requests.get(f"{sheets.base_url}/v4/spreadsheets/{BOOK}", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["status"] == "UNAUTHENTICATED"

    info = sheets.service_account_info()
    info["private_key"] = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    forged = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    with pytest.raises(RefreshError, match="invalid_grant"):
        forged.refresh(Request())

    unscoped = service_account.Credentials.from_service_account_info(sheets.service_account_info())
    with pytest.raises(RefreshError, match="invalid_scope"):
        unscoped.refresh(Request())
    assert sheets.granted_scopes == []


def test_fail_next_surfaces_as_gspread_api_error(
    sheets: FakeGoogleSheets, client: HTTPClient
) -> None:
    sheets.fail_next(429, retry_after="7")
    with pytest.raises(APIError) as caught:
        client.values_get(BOOK, "'Лист1'!A1")
    assert caught.value.code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.error["status"] == "RESOURCE_EXHAUSTED"

    sheets.fail_next(503, times=2)
    for _ in range(2):
        with pytest.raises(APIError) as caught:
            client.values_get(BOOK, "'Лист1'!A1")
        assert caught.value.code == 503
    assert client.values_get(BOOK, "'Лист1'!A1") == {
        "range": "'Лист1'!A1",
        "majorDimension": "ROWS",
    }

    # An expired token is a 401, which AuthorizedSession answers by refreshing and retrying.
    tokens_before = sheets.token_requests
    sheets.expire_tokens()
    client.values_get(BOOK, "'Лист1'!A1")
    assert sheets.token_requests == tokens_before + 1


def test_user_entered_parses_numbers_and_formulas_raw_stores_text(
    sheets: FakeGoogleSheets, client: HTTPClient
) -> None:
    typed = ["=SUM(B1:C1)", "42", "2.50", "text", "'007"]
    answer = client.values_update(
        BOOK, "'Лист1'!A1", params={"valueInputOption": "USER_ENTERED"}, body={"values": [typed]}
    )
    assert (answer["updatedRange"], answer["updatedCells"]) == ("'Лист1'!A1:E1", 5)
    assert sheets.formulas_evaluated == 1

    client.values_update(
        BOOK, "'Лист1'!A2", params={"valueInputOption": "RAW"}, body={"values": [typed]}
    )
    assert sheets.formulas_evaluated == 1
    assert sheets.grid(BOOK, "Лист1") == [
        ["=SUM(B1:C1)", 42, 2.5, "text", "007"],
        ["=SUM(B1:C1)", "42", "2.50", "text", "'007"],
    ]

    appended = client.values_append(
        BOOK,
        "'Лист1'",
        params={"valueInputOption": "USER_ENTERED"},
        body={"values": [["=1+1", "3"]]},
    )
    assert appended["tableRange"] == "'Лист1'!A1:E2"
    assert appended["updates"]["updatedRange"] == "'Лист1'!A3:B3"
    assert sheets.formulas_evaluated == 2
    assert sheets.grid(BOOK, "Лист1")[2] == ["=1+1", 3]


def test_ranges_errors_and_add_sheet_match_google(
    sheets: FakeGoogleSheets, session: AuthorizedSession, client: HTTPClient
) -> None:
    sheets.set_grid(BOOK, "Лист1", [["a", "b"], ["c", "d"]])
    assert client.values_get(BOOK, "'Лист1'!1:1") == {
        "range": "'Лист1'!A1:Z1",
        "majorDimension": "ROWS",
        "values": [["a", "b"]],
    }
    assert client.values_get(BOOK, "'Лист1'!B:B")["values"] == [["b"], ["d"]]

    with pytest.raises(APIError) as caught:
        client.values_get(BOOK, "Nope!A1")
    assert caught.value.code == 400
    assert caught.value.error == {
        "code": 400,
        "message": "Unable to parse range: Nope!A1",
        "status": "INVALID_ARGUMENT",
    }
    with pytest.raises(SpreadsheetNotFound):
        gspread.Client(None, session=session).open_by_key("no-such-book")  # type: ignore[arg-type]

    # A single-cell start lets the data spill over and the grid grow.
    client.values_update(
        BOOK, "'Лист1'!Z1000", params={"valueInputOption": "RAW"}, body={"values": [[1, 2], [3]]}
    )
    assert sheets.grid_size(BOOK, "Лист1") == (1001, 27)

    reply = client.batch_update(
        BOOK, {"requests": [{"addSheet": {"properties": {"title": "New"}}}]}
    )
    added = reply["replies"][0]["addSheet"]["properties"]
    assert (added["title"], added["index"], added["sheetId"]) == ("New", 2, 2)
    assert sheets.sheet_titles(BOOK) == ["Лист1", "It's data", "New"]
    with pytest.raises(APIError, match="already exists"):
        client.batch_update(BOOK, {"requests": [{"addSheet": {"properties": {"title": "New"}}}]})


def test_grid_data_charts_and_metadata_come_back_through_the_fields_mask(
    sheets: FakeGoogleSheets, client: HTTPClient
) -> None:
    date_format = {"type": "DATE", "pattern": "yyyy-mm-dd"}
    cells = [
        {
            "userEnteredValue": {"numberValue": 45717},
            "userEnteredFormat": {"numberFormat": date_format},
        },
        {"userEnteredValue": {"stringValue": "=1+1"}},
    ]
    spec = {"title": "mine", "basicChart": {"chartType": "LINE", "headerCount": 1}}
    anchor = {"overlayPosition": {"anchorCell": {"sheetId": 1, "rowIndex": 0}}}
    answer = client.request(
        "post",
        f"{SHEETS_ORIGIN}/v4/spreadsheets/{BOOK}:batchUpdate",
        params={"fields": "replies,updatedSpreadsheet(sheets(charts.chartId,data.rowData))"},
        json={
            "requests": [
                {
                    "updateCells": {
                        "start": {"sheetId": 1, "rowIndex": 1},
                        "rows": [{"values": cells}],
                        "fields": "userEnteredValue,userEnteredFormat.numberFormat",
                    }
                },
                {"addChart": {"chart": {"chartId": 7, "spec": spec, "position": anchor}}},
                {
                    "createDeveloperMetadata": {
                        "developerMetadata": {
                            "metadataKey": "k",
                            "metadataValue": "7",
                            "location": {"sheetId": 1},
                        }
                    }
                },
            ],
            "includeSpreadsheetInResponse": True,
            "responseRanges": ["'It''s data'"],
            "responseIncludeGridData": True,
        },
    ).json()
    assert answer["replies"][1]["addChart"]["chart"]["chartId"] == 7
    assert answer["replies"][2]["createDeveloperMetadata"]["developerMetadata"]["metadataId"] == 1
    assert answer["updatedSpreadsheet"] == {
        "sheets": [
            {
                "charts": [{"chartId": 7}],
                "data": [
                    {
                        "rowData": [
                            {},
                            {
                                "values": [
                                    {
                                        "userEnteredValue": {"numberValue": 45717},
                                        "effectiveValue": {"numberValue": 45717},
                                        "formattedValue": "2025-03-01",
                                        "userEnteredFormat": {"numberFormat": date_format},
                                    },
                                    {
                                        "userEnteredValue": {"stringValue": "=1+1"},
                                        "effectiveValue": {"stringValue": "=1+1"},
                                        "formattedValue": "=1+1",
                                    },
                                ]
                            },
                        ]
                    }
                ],
            }
        ]
    }
    assert sheets.formulas_evaluated == 0  # text, not a formulaValue

    got = client.fetch_sheet_metadata(
        BOOK,
        params={
            "includeGridData": "true",
            "ranges": "'It''s data'",
            "fields": "sheets(properties.title,charts(spec.title),developerMetadata.metadataValue)",
        },
    )
    assert got == {
        "sheets": [
            {
                "properties": {"title": "It's data"},
                "charts": [{"spec": {"title": "mine"}}],
                "developerMetadata": [{"metadataValue": "7"}],
            }
        ]
    }
    with pytest.raises(APIError, match="already exists"):  # a chart id is used once
        client.batch_update(
            BOOK,
            {
                "requests": [
                    {"addChart": {"chart": {"chartId": 7, "spec": spec, "position": anchor}}}
                ]
            },
        )
    with pytest.raises(APIError, match="Unable to parse range"):
        client.fetch_sheet_metadata(BOOK, params={"includeGridData": "true", "ranges": "Nope"})
