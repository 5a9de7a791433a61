"""The HTTP client against httpx mock transports: retries, Retry-After, rate limit, pagination."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from sync_assets.platform.errors import ApiError
from sync_assets.platform.http import (
    ApiClient,
    Cursors,
    PageNumbers,
    RetryPolicy,
    TokenBucket,
    shared_rate_limiter,
)


class Script:
    """A mock API answering from a list of responses (or exceptions), recording requests."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(data=None):
    return httpx.Response(200, json=data if data is not None else {"ok": True})


def client_for(script, attempts=4, **kwargs):
    sleeps: list[float] = []
    client = ApiClient(
        "testapi",
        "https://api.example.test",
        transport=httpx.MockTransport(script),
        retry=RetryPolicy(attempts=attempts, jitter=0.0),
        sleep=sleeps.append,
        **kwargs,
    )
    return client, sleeps


def test_retry_after_in_seconds_is_honoured():
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}), ok())
    client, sleeps = client_for(script)
    assert client.get_json("/things") == {"ok": True}
    assert sleeps == [7.0]
    assert len(script.requests) == 2


def test_retry_after_as_an_http_date_is_honoured():
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    script = Script(httpx.Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)}), ok())
    client, sleeps = client_for(script)
    client.get_json("/things")
    assert 25 <= sleeps[0] <= 31


def test_a_retry_after_beyond_the_limit_fails_at_once_and_says_so():
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}), ok())
    client, sleeps = client_for(script, attempts=5)
    with pytest.raises(ApiError, match="3600 s"):
        client.get_json("/things")
    assert sleeps == [] and len(script.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_other_client_errors_are_never_retried(status):
    script = Script(httpx.Response(status, json={"errors": ["nope"]}))
    client, sleeps = client_for(script)
    with pytest.raises(ApiError) as error:
        client.get_json("/things")
    assert error.value.status == status
    assert len(script.requests) == 1 and sleeps == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_up_to_the_limit_then_named(status):
    script = Script(httpx.Response(status))
    client, sleeps = client_for(script, attempts=4)
    with pytest.raises(ApiError) as error:
        client.get_json("/api/v1/rdvs", params={"user_email": "jeanne.martin@example.fr"})
    assert len(script.requests) == 4
    assert sleeps == [0.5, 1.0, 2.0]  # exponential backoff (jitter off)
    message = str(error.value)
    assert "testapi GET /api/v1/rdvs failed after 4 attempts" in message and f"HTTP {status}" in message
    assert "jeanne" not in message and "example.fr" not in message


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadError("connection reset by peer"),
    ],
)
def test_connection_failures_are_retried(failure):
    script = Script(failure, failure, ok())
    client, sleeps = client_for(script)
    assert client.get_json("/things") == {"ok": True}
    assert len(script.requests) == 3 and len(sleeps) == 2


def test_connection_failures_that_persist_end_in_a_clear_error():
    script = Script(httpx.ConnectError("refused"))
    client, _ = client_for(script, attempts=3)
    with pytest.raises(ApiError, match=r"GET /things failed after 3 attempts: connection failed \(ConnectError\)"):
        client.get_json("/things")


def test_a_truncated_json_body_is_retried():
    script = Script(httpx.Response(200, content=b'{"rdvs": [{"id": 1'), ok({"rdvs": []}))
    client, _ = client_for(script)
    assert client.get_json("/things") == {"rdvs": []}


def test_backoff_has_jitter_and_a_ceiling():
    script = Script(httpx.Response(500))
    sleeps: list[float] = []
    client = ApiClient(
        "testapi",
        "https://api.example.test",
        transport=httpx.MockTransport(script),
        retry=RetryPolicy(attempts=8, backoff_multiplier=1, backoff_max=5, jitter=0.5),
        sleep=sleeps.append,
    )
    with pytest.raises(ApiError):
        client.get_json("/x")
    assert all(s <= 5 for s in sleeps) and sleeps[-1] == 5
    assert 1 <= sleeps[0] <= 1.5 and 2 <= sleeps[1] <= 2.5


def test_timeouts_are_explicit():
    client, _ = client_for(Script(ok()))
    timeout = client._http.timeout
    assert timeout.connect == 5.0 and timeout.read == 30.0


def test_token_bucket_spaces_requests_at_the_rate():
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate=2, burst=2, clock=lambda: now[0], sleep=sleep)
    for _ in range(6):
        bucket.acquire()
    # two at once (the burst), then one every half second
    assert sleeps == [0.5, 0.5, 0.5, 0.5]
    now[0] += 10  # idle: the bucket refills up to the burst, no further
    bucket.acquire(), bucket.acquire()
    assert len(sleeps) == 4
    bucket.acquire()
    assert sleeps[-1] == 0.5


def test_token_bucket_queues_concurrent_callers():
    # The clock stands still, so each caller's wait shows the slot it reserved.
    bucket = TokenBucket(rate=50, burst=1, clock=lambda: 0.0, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def call():
        waited = bucket.acquire()
        with lock:
            waits.append(waited)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08])


def test_clients_of_one_connector_share_its_limiter():
    assert shared_rate_limiter("rdvsp", 5, 5) is shared_rate_limiter("rdvsp", 5, 5)
    assert shared_rate_limiter("rdvsp", 5, 5) is not shared_rate_limiter("doctolib:key-a", 5, 5)


def test_the_client_takes_a_token_per_attempt():
    taken = []

    class Counting(TokenBucket):
        def acquire(self):
            taken.append(1)
            return 0.0

    client, _ = client_for(Script(httpx.Response(503), ok()), rate_limiter=Counting(1))
    client.get_json("/x")
    assert len(taken) == 2


def envelope(items, page, total_pages):
    return {
        "rdvs": items,
        "meta": {
            "current_page": page,
            "next_page": page + 1 if page < total_pages else None,
            "prev_page": page - 1 or None,
            "total_pages": total_pages,
            "total_count": 5,
        },
    }


def test_page_number_pagination_follows_next_page_and_keeps_params():
    pages = {
        1: envelope([{"id": 1}, {"id": 2}], 1, 3),
        2: envelope([{"id": 3}, {"id": 4}], 2, 3),
        3: envelope([{"id": 5}], 3, 3),
    }
    seen = []

    def api(request):
        seen.append(dict(request.url.params))
        return httpx.Response(200, json=pages[int(request.url.params["page"])])

    client, _ = client_for(api)
    result = list(PageNumbers().pages(client, "/api/v1/rdvs", {"organisation_id": 7}))
    assert [i["id"] for p in result for i in p.data["rdvs"]] == [1, 2, 3, 4, 5]
    assert seen == [{"organisation_id": "7", "page": str(n)} for n in (1, 2, 3)]
    assert result[0].sha256 == __import__("hashlib").sha256(result[0].body).hexdigest()
    assert json.loads(result[0].body) == pages[1]


def test_page_number_pagination_retries_a_429_mid_way():
    calls = []

    def api(request):
        calls.append(request.url.params["page"])
        if len(calls) == 2:
            return httpx.Response(429, headers={"Retry-After": "2"})
        page = int(request.url.params["page"])
        return httpx.Response(200, json=envelope([{"id": page}], page, 3))

    client, sleeps = client_for(api)
    result = list(PageNumbers().pages(client, "/rdvs"))
    assert [p.data["rdvs"][0]["id"] for p in result] == [1, 2, 3]
    assert calls == ["1", "2", "2", "3"] and sleeps == [2.0]


def test_page_number_pagination_refuses_to_loop():
    client, _ = client_for(lambda r: httpx.Response(200, json=envelope([], 1, 3) | {"meta": {"next_page": 1}}))
    with pytest.raises(ApiError, match="went from 1 to 1"):
        list(PageNumbers().pages(client, "/rdvs"))


def test_cursor_pagination_follows_next_cursor():
    answers = {
        None: {"data": [1, 2], "next_cursor": "c2"},
        "c2": {"data": [3], "next_cursor": "c3"},
        "c3": {"data": [], "next_cursor": None},
    }

    def api(request):
        assert request.url.params["updated_since"] == "2025-01-01T00:00:00Z"
        return httpx.Response(200, json=answers[request.url.params.get("cursor")])

    client, _ = client_for(api)
    pages = list(Cursors().pages(client, "/v1/practices/1/appointments", {"updated_since": "2025-01-01T00:00:00Z"}))
    assert [x for p in pages for x in p.data["data"]] == [1, 2, 3]


def test_cursor_pagination_refuses_a_repeated_cursor():
    answers = iter(
        [{"data": [1], "next_cursor": "a"}, {"data": [2], "next_cursor": "b"}, {"data": [3], "next_cursor": "a"}]
    )
    client, _ = client_for(lambda r: httpx.Response(200, json=next(answers)))
    with pytest.raises(ApiError, match="already returned"):
        list(Cursors().pages(client, "/v1/practices"))


def test_prefetched_pages_arrive_in_order_while_the_next_is_fetched():
    fetched: list[int] = []
    second_asked = threading.Event()

    def pages():
        for number in range(1, 5):
            fetched.append(number)
            if number == 2:
                second_asked.set()
            yield number

    from sync_assets.platform.http import prefetched

    listing = prefetched(pages(), ahead=1)
    assert next(listing) == 1
    assert second_asked.wait(5)  # page 2 is fetched before it is asked for
    assert list(listing) == [2, 3, 4] and fetched == [1, 2, 3, 4]


def test_prefetched_raises_the_listing_error_in_the_caller_and_stops_early():
    from sync_assets.platform.http import prefetched

    def failing():
        yield "first"
        raise ApiError("testapi", "GET", "/v1/practices", "HTTP 503", status=503, attempts=5)

    listing = prefetched(failing())
    assert next(listing) == "first"
    with pytest.raises(ApiError, match="HTTP 503"):
        next(listing)

    produced: list[int] = []

    def endless():
        number = 0
        while True:
            number += 1
            produced.append(number)
            yield number

    listing = prefetched(endless(), ahead=2)
    assert next(listing) == 1
    listing.close()  # the caller stops: the fetching thread stops too
    stopped_at = len(produced)
    assert stopped_at <= 5 and len(produced) == stopped_at


def test_clients_share_one_tls_context():
    """Loading the CA bundle costs about 0.1 s: clients made per run must not each pay it."""
    from sync_assets.platform.http import default_ssl_context

    first = ApiClient("testapi", "https://api.example.test")
    second = ApiClient("other", "https://other.example.test")
    try:
        contexts = {id(c._http._transport._pool._ssl_context) for c in (first, second)}
        assert contexts == {id(default_ssl_context())}
    finally:
        first.close()
        second.close()


def test_interleaved_streams_take_turns_within_their_width_and_are_closed_when_left():
    from sync_assets.platform.http import interleaved

    closed = []

    def stream(name: str, count: int):
        try:
            yield from (f"{name}{n}" for n in range(count))
        finally:
            closed.append(name)

    streams = [(name, stream(name, count)) for name, count in (("a", 3), ("b", 1), ("c", 2), ("d", 2))]
    taken = [item for _, item in interleaved(iter(streams), width=2)]
    assert taken == ["a0", "b0", "a1", "a2", "c0", "c1", "d0", "d1"]  # c joins when b has ended
    assert sorted(closed) == ["a", "b", "c", "d"]
    closed.clear()
    early = interleaved(iter([(name, stream(name, 5)) for name in "xyz"]), width=2)
    assert [next(early)[1] for _ in range(3)] == ["x0", "y0", "x1"]
    early.close()  # a caller that stops (or fails) closes the streams it had started
    assert sorted(closed) == ["x", "y"]
