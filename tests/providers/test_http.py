"""The outbound-HTTP wrapper: mandatory timeouts, error classification, size caps, backoff."""

import inspect
import json
import time

import pytest
import requests
import responses
import urllib3.exceptions

from generations.providers import http
from generations.providers.errors import (
    ProviderConnectionError,
    ProviderOutcomeUnknown,
    ProviderResponseError,
)

from ..net import free_port
from .conftest import fake_getaddrinfo, send_body

URL = "https://api.example.test/api/v1/thing"


def call(url=URL, **kwargs):
    """Call ``request_json`` with short timeouts unless the test gives its own."""
    kwargs.setdefault("connect_timeout", 0.5)
    kwargs.setdefault("read_timeout", 0.5)
    return http.request_json(kwargs.pop("method", "GET"), url, headers={}, **kwargs)


class TestTimeoutsAndRequestShape:
    def test_timeouts_are_keyword_only_and_have_no_default(self):
        parameters = inspect.signature(http.request_json).parameters
        for name in ("connect_timeout", "read_timeout"):
            assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
            assert parameters[name].default is inspect.Parameter.empty

    @pytest.mark.parametrize(("connect", "read"), [(0, 1), (1, 0), (-1, 1)])
    def test_non_positive_timeouts_are_refused(self, connect, read):
        with pytest.raises(ValueError):
            call(connect_timeout=connect, read_timeout=read)

    @responses.activate
    def test_timeouts_reach_the_transport(self):
        responses.get(URL, json={"ok": True})
        assert call(connect_timeout=3.0, read_timeout=7.0) == (200, {"ok": True})
        kwargs = responses.calls[0].request.req_kwargs
        assert kwargs["timeout"] == (3.0, 7.0)
        assert kwargs["stream"] is True

    @responses.activate
    def test_json_body_is_sent_compact_with_content_type(self):
        responses.post(URL, json={"ok": True})
        call(method="POST", json={"a": [1, True]}, params={"taskId": "t 1"})
        request = responses.calls[0].request
        assert request.headers["Content-Type"] == "application/json"
        assert json.loads(request.body) == {"a": [1, True]}
        assert request.url.endswith("?taskId=t+1")

    def test_nan_in_a_body_is_a_programming_error(self):
        with pytest.raises(ValueError):
            call(method="POST", json={"x": float("nan")})

    @responses.activate
    def test_a_redirect_comes_back_as_its_status(self):
        responses.get(URL, status=302, headers={"Location": "https://elsewhere.test/"})
        assert call() == (302, None)


class TestBodies:
    @responses.activate
    def test_non_json_success_body_is_a_response_error(self):
        responses.get(URL, body="<html>oops</html>", status=200)
        with pytest.raises(ProviderResponseError) as caught:
            call()
        assert caught.value.status == 200

    @responses.activate
    def test_non_json_error_body_is_returned_as_none(self):
        responses.get(URL, body="<html>Bad gateway</html>", status=502)
        assert call() == (502, None)

    @responses.activate
    @pytest.mark.parametrize("body", ["NaN", '{"x": Infinity}', "[" * 100_000, ""])
    def test_non_standard_or_pathological_json_is_refused(self, body):
        responses.get(URL, body=body)
        with pytest.raises(ProviderResponseError):
            call()

    @responses.activate
    def test_body_over_the_cap_is_refused(self):
        responses.get(URL, body=json.dumps(["x" * 200]))
        with pytest.raises(ProviderResponseError):
            call(max_bytes=100)


class TestMockedTransportErrors:
    @responses.activate
    @pytest.mark.parametrize(
        ("raised", "expected"),
        [
            (requests.exceptions.ConnectTimeout(), ProviderConnectionError),
            (requests.exceptions.SSLError(), ProviderConnectionError),
            (
                requests.exceptions.ConnectionError(
                    urllib3.exceptions.MaxRetryError(
                        None, URL, urllib3.exceptions.NewConnectionError(None, "refused")
                    )
                ),
                ProviderConnectionError,
            ),
            (requests.exceptions.ReadTimeout(), ProviderOutcomeUnknown),
            (
                requests.exceptions.ConnectionError(
                    urllib3.exceptions.ProtocolError("Connection aborted.")
                ),
                ProviderOutcomeUnknown,
            ),
            (requests.exceptions.ChunkedEncodingError(), ProviderOutcomeUnknown),
            (requests.exceptions.ConnectionError(), ProviderOutcomeUnknown),
        ],
    )
    def test_errors_are_classified_by_whether_anything_was_sent(self, raised, expected):
        responses.get(URL, body=raised)
        with pytest.raises(expected):
            call()

    @responses.activate
    def test_a_bad_url_is_a_configuration_error_for_an_admin(self):
        responses.get(URL, body=requests.exceptions.InvalidURL())
        with pytest.raises(ProviderConnectionError) as caught:
            call()
        assert (caught.value.retryable, caught.value.alert_admin) == (False, True)


class TestRealSockets:
    def test_refused_connection_is_a_connection_error(self):
        with pytest.raises(ProviderConnectionError) as caught:
            call(f"http://127.0.0.1:{free_port()}/")
        assert caught.value.retryable is True

    def test_unresolvable_host_is_a_connection_error(self, monkeypatch):
        def fail(*args, **kwargs):
            raise OSError(-2, "Name or service not known")

        monkeypatch.setattr("socket.getaddrinfo", fail)
        with pytest.raises(ProviderConnectionError):
            call("http://api.nowhere.test/")

    def test_connection_dropped_after_sending_is_outcome_unknown(self, local_server):
        local_server.routes["/drop"] = lambda handler: None  # read the request, answer nothing
        with pytest.raises(ProviderOutcomeUnknown) as caught:
            call(local_server.url("/drop"), method="POST", json={"a": 1})
        assert caught.value.retryable is False

    def test_no_answer_in_time_is_outcome_unknown(self, local_server):
        local_server.routes["/slow"] = lambda handler: time.sleep(1.5)
        with pytest.raises(ProviderOutcomeUnknown):
            call(local_server.url("/slow"), read_timeout=0.3)

    def test_truncated_body_is_outcome_unknown(self, local_server):
        def truncated(handler):
            handler.send_response(200)
            handler.send_header("Content-Length", "100")
            handler.end_headers()
            handler.wfile.write(b'{"code": 200')

        local_server.routes["/cut"] = truncated
        with pytest.raises(ProviderOutcomeUnknown):
            call(local_server.url("/cut"))

    def test_slow_drip_body_is_cut_at_the_read_timeout(self, local_server):
        def drip(handler):
            handler.send_response(200)
            handler.send_header("Content-Length", "1000")
            handler.end_headers()
            for _ in range(1000):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.05)

        local_server.routes["/drip"] = drip
        started = time.monotonic()
        with pytest.raises(ProviderOutcomeUnknown):
            call(local_server.url("/drip"), read_timeout=0.5)
        assert time.monotonic() - started < 2.0

    def test_real_json_answer(self, local_server):
        local_server.routes["/ok"] = lambda handler: send_body(
            handler, b'{"code": 200, "data": 1.5}', content_type="application/json"
        )
        assert call(local_server.url("/ok")) == (200, {"code": 200, "data": 1.5})

    def test_api_calls_are_not_subject_to_the_download_guard(self, monkeypatch, local_server):
        # The simulator is on loopback and operator-configured; only downloads are guarded.
        fake_getaddrinfo(monkeypatch, {"simulator.test": ["127.0.0.1"]})
        local_server.routes["/ok"] = lambda handler: send_body(
            handler, b"{}", content_type="application/json"
        )
        assert call(local_server.url("/ok", host="simulator.test")) == (200, {})


class TestBackoffDelay:
    def test_full_jitter_grows_exponentially_up_to_the_cap(self):
        assert http.backoff_delay(0, rand=lambda: 0.999) == pytest.approx(2.0 * 0.999)
        assert http.backoff_delay(3, rand=lambda: 0.5) == pytest.approx(8.0)
        assert http.backoff_delay(20, rand=lambda: 0.5) == pytest.approx(150.0)
        assert http.backoff_delay(10_000, cap=60.0, rand=lambda: 1.0) == 60.0
        assert http.backoff_delay(5, rand=lambda: 0.0) == 0.0

    def test_real_randomness_stays_in_bounds(self):
        delays = [http.backoff_delay(4, base=1.0, cap=10.0) for _ in range(200)]
        assert all(0.0 <= delay < 10.0 for delay in delays)
        assert len(set(delays)) > 100

    def test_negative_attempt_is_refused(self):
        with pytest.raises(ValueError):
            http.backoff_delay(-1)
