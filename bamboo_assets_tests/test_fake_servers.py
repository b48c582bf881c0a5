"""The fake servers behave like the real services where the other tests rely on it.

Each test drives a fake with the real client library (gspread + google-auth, requests,
smtplib), so a fake that drifted from the real protocol fails here first.
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
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

from bamboo_assets_tests.servers import (
    FakeGoogleSheets,
    FakeStatisticsApi,
    Hang,
    Reply,
    SmtpEnvelope,
    SmtpServer,
    StreamedBody,
    Truncated,
    closed_port,
)

SHEETS_ORIGIN = "https://sheets.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
BOOK = "book-id"


# -- Google Sheets ---------------------------------------------------------------------------


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


# -- statistics API --------------------------------------------------------------------------

PARAMS = {
    "client": "bamboo",
    "client_key": "test-key",
    "start": "2024-05-01 00:00:00.000000",
    "end": "2024-05-01 23:59:59.999999",
}


def _echo_start(params: dict[str, str]) -> bytes:
    return json.dumps([{"start": params["start"]}]).encode()


def test_statistics_api_checks_the_key_and_records_requests() -> None:
    with FakeStatisticsApi(_echo_start) as api:
        refused = requests.get(api.url, params={**PARAMS, "client_key": "wrong"}, timeout=5)
        answered = requests.get(api.url, params=PARAMS, timeout=5)

        assert refused.status_code == 401
        assert refused.json() == {"errors": "invalid client_key"}
        assert answered.status_code == 200
        assert answered.json() == [{"start": "2024-05-01 00:00:00.000000"}]
        assert answered.headers["Content-Length"] == str(len(answered.content))
        assert api.requests == [{**PARAMS, "client_key": "wrong"}, PARAMS]
        assert len(api.request_times) == 2


def test_statistics_api_serves_reply_faults_in_order() -> None:
    with FakeStatisticsApi(_echo_start) as api:
        api.fail_next(
            Reply(503, headers={"Retry-After": "1"}),
            Reply(200, b'{"errors": "x"}'),
            Reply(200, b"not json"),
        )
        unavailable, errors, junk, normal = (
            requests.get(api.url, params=PARAMS, timeout=5) for _ in range(4)
        )
        assert (unavailable.status_code, unavailable.headers["Retry-After"]) == (503, "1")
        assert errors.json() == {"errors": "x"}
        assert junk.text == "not json"
        assert normal.json() == [{"start": PARAMS["start"]}]
        assert api.pending_faults == 0


def test_truncated_body_fails_the_read_and_big_bodies_arrive_whole() -> None:
    body = bytes(range(256)) * (3 * 4096 + 7)  # > 3 MiB: several 1 MiB chunks

    def answer(params: dict[str, str]) -> bytes | StreamedBody:
        if params["client"] == "streamed":
            return StreamedBody(
                len(body), (body[i : i + 100_000] for i in range(0, len(body), 100_000))
            )
        return body

    with FakeStatisticsApi(answer) as api:
        api.fail_next(Truncated(keep_bytes=1000))
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
            requests.get(api.url, params=PARAMS, timeout=5)
        assert requests.get(api.url, params=PARAMS, timeout=5).content == body
        streamed = requests.get(api.url, params={**PARAMS, "client": "streamed"}, timeout=5)
        assert streamed.content == body


def test_hang_times_the_client_out_without_blocking_shutdown() -> None:
    api = FakeStatisticsApi(_echo_start)
    with api:
        api.fail_next(Hang(30))
        with pytest.raises(requests.ReadTimeout):
            requests.get(api.url, params=PARAMS, timeout=0.5)
        assert requests.get(api.url, params=PARAMS, timeout=5).status_code == 200
        api.fail_next(Hang(30))
        with pytest.raises(requests.ReadTimeout):
            requests.get(api.url, params=PARAMS, timeout=0.2)
        leaving = time.monotonic()  # a handler is still hanging as we exit
    assert time.monotonic() - leaving < 0.6  # stop() gives stuck handlers 1 s: none was used
    with pytest.raises(requests.ConnectionError):
        requests.get(api.url, params=PARAMS, timeout=1)


def test_statistics_api_answers_requests_in_parallel() -> None:
    with FakeStatisticsApi(_echo_start, delay_seconds=0.4) as api:
        began = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            statuses = list(
                pool.map(
                    lambda _: requests.get(api.url, params=PARAMS, timeout=5).status_code, range(4)
                )
            )
        elapsed = time.monotonic() - began
        assert statuses == [200] * 4
        assert elapsed < 1.2  # serial answering would take 1.6 s
        times = api.request_times
        assert max(times) - min(times) < 0.3


# -- SMTP ------------------------------------------------------------------------------------


def _digest() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "bamboo@example.org"
    message["To"] = "team@example.org"
    message["Subject"] = "Сводка за день"
    message.set_content("Всё хорошо\n")
    return message


def _connect(server: SmtpServer, context: ssl.SSLContext | None) -> smtplib.SMTP:
    if server.security == "ssl":
        return smtplib.SMTP_SSL(server.host, server.port, context=context, timeout=5)
    smtp = smtplib.SMTP(server.host, server.port, timeout=5)
    if server.security == "starttls":
        smtp.starttls(context=context)
    return smtp


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_smtp_delivers_in_every_security_mode(security: str) -> None:
    with SmtpServer(security, user="digest", password="s3cret") as server:  # type: ignore[arg-type]
        context = None
        if security != "none":
            assert server.ca_file is not None
            context = ssl.create_default_context(cafile=server.ca_file)  # verifies 127.0.0.1
        else:
            assert server.ca_file is None
        with _connect(server, context) as smtp:
            assert isinstance(smtp.sock, ssl.SSLSocket) == (security != "none")
            smtp.login("digest", "s3cret")
            smtp.send_message(_digest())

        [received] = server.messages
        assert received["Subject"] == "Сводка за день"
        assert received.get_content() == "Всё хорошо\n"
        assert server.envelopes == [SmtpEnvelope("bamboo@example.org", ["team@example.org"])]
        assert server.authenticated_users == ["digest"]


def test_smtp_rejects_wrong_password_and_unauthenticated_mail() -> None:
    with SmtpServer("none", user="digest", password="s3cret") as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as smtp:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                smtp.login("digest", "wrong")
            with pytest.raises(smtplib.SMTPSenderRefused):
                smtp.send_message(_digest())
        assert server.messages == []
        assert server.authenticated_users == []


def test_smtp_starttls_is_required_and_certificate_is_self_signed() -> None:
    with SmtpServer("starttls", user="digest", password="s3cret") as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as smtp:
            smtp.ehlo()
            assert not smtp.has_extn("auth")  # AUTH is offered only after STARTTLS
            with pytest.raises(smtplib.SMTPSenderRefused):  # and mail needs STARTTLS first
                smtp.send_message(_digest())
        with (
            smtplib.SMTP(server.host, server.port, timeout=5) as smtp,
            pytest.raises(ssl.SSLCertVerificationError),  # not trusted without ca_file
        ):
            smtp.starttls(context=ssl.create_default_context())
        assert server.messages == []


def test_closed_port_refuses_connections() -> None:
    port = closed_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", port, timeout=1)
