"""The fake ITResume statistics API behaves like the real one where the other tests rely on it:
the key, the answers, and the faults it is told to serve, driven with requests.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bamboo_assets_tests.servers import FakeStatisticsApi, Hang, Reply, StreamedBody, Truncated

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
