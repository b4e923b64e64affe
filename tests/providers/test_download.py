"""The guarded downloader (docs/architecture.md "What must hold": guarded downloads).

Real sockets on 127.0.0.1; host names are faked by patching ``socket.getaddrinfo``.
"""

import io
import time

import pytest

from generations.providers import http
from generations.providers.errors import DownloadError, DownloadReason, DownloadRefused
from generations.providers.media import IMAGE_CONTENT_TYPES, VIDEO_CONTENT_TYPES

from .conftest import MP4_BYTES, PNG_BYTES, fake_getaddrinfo, redirect, send_body


def download(url, *, allow=frozenset(), max_bytes=1_000_000, timeout=5.0, types=None):
    """Download ``url`` into memory; return ``(result, bytes written)``."""
    sink = io.BytesIO()
    result = http.download_to_file(
        url,
        sink,
        max_bytes=max_bytes,
        timeout_total_s=timeout,
        allowed_content_types=types or VIDEO_CONTENT_TYPES,
        allow_loopback_hosts=allow,
    )
    return result, sink.getvalue()


def refused(url, reason, **kwargs):
    """Assert that downloading ``url`` is refused for ``reason``; return the error."""
    with pytest.raises(DownloadRefused) as caught:
        download(url, **kwargs)
    assert caught.value.reason is reason
    assert caught.value.retryable is False
    return caught.value


@pytest.fixture
def simulator(local_server):
    """The local server serving an MP4 at ``/video.mp4``, allowed as the simulator."""
    local_server.routes["/video.mp4"] = lambda handler: send_body(handler, MP4_BYTES)
    local_server.allow = frozenset({f"127.0.0.1:{local_server.port}"})
    return local_server


class TestSchemesAndUrls:
    @pytest.mark.parametrize(
        "url",
        [
            "ftp://example.com/video.mp4",
            "file:///etc/passwd",
            "gopher://example.com/",
            "data:video/mp4;base64,AAAA",
            "javascript:alert(1)",
            "//example.com/video.mp4",
            "video.mp4",
        ],
    )
    def test_only_http_and_https_are_allowed(self, url):
        refused(url, DownloadReason.SCHEME)

    @pytest.mark.parametrize(
        "url",
        [
            "http:///video.mp4",
            "http://user:secret@example.com/video.mp4",
            "http://example.com:99999/video.mp4",
            "http://[::1/video.mp4",
            "https://example.com/" + "a" * 5000,
        ],
    )
    def test_malformed_urls_and_credentials_are_refused(self, url):
        refused(url, DownloadReason.URL)


class TestAddresses:
    def test_loopback_is_refused_without_the_simulator_exception(self, simulator):
        refused(simulator.url("/video.mp4"), DownloadReason.ADDRESS)
        assert simulator.seen == []  # refused before connecting

    @pytest.mark.parametrize(
        "address",
        [
            "10.0.0.5",
            "172.16.3.4",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2002:7f00:1::1",
        ],
    )
    def test_host_name_resolving_to_a_non_public_address_is_refused(self, monkeypatch, address):
        fake_getaddrinfo(monkeypatch, {"cdn.example.test": [address]})
        error = refused("https://cdn.example.test/video.mp4", DownloadReason.ADDRESS)
        assert address in error.detail

    def test_one_private_address_among_public_ones_is_refused(self, monkeypatch):
        fake_getaddrinfo(monkeypatch, {"cdn.example.test": ["93.184.216.34", "10.1.2.3"]})
        refused("https://cdn.example.test/video.mp4", DownloadReason.ADDRESS)

    def test_the_simulator_exception_covers_loopback_only(self, monkeypatch):
        fake_getaddrinfo(monkeypatch, {"sim.test": ["10.0.0.7"]})
        refused("http://sim.test:8765/v.mp4", DownloadReason.ADDRESS, allow=frozenset({"sim.test"}))

    def test_unresolvable_host_is_a_retryable_dns_error(self, monkeypatch):
        def fail(*args, **kwargs):
            raise OSError(-2, "Name or service not known")

        monkeypatch.setattr("socket.getaddrinfo", fail)
        with pytest.raises(DownloadError) as caught:
            download("https://cdn.example.test/video.mp4")
        assert caught.value.reason is DownloadReason.DNS
        assert caught.value.retryable is True


class TestAllowedSimulator:
    def test_allowed_loopback_simulator_host_is_accepted(self, simulator):
        result, body = download(simulator.url("/video.mp4"), allow=simulator.allow)
        assert body == MP4_BYTES
        assert result == http.DownloadResult(
            content_type="video/mp4",
            size_bytes=len(MP4_BYTES),
            final_url=simulator.url("/video.mp4"),
        )

    def test_a_bare_host_name_in_the_exception_list_works_too(self, simulator):
        result, _ = download(simulator.url("/video.mp4"), allow=frozenset({"127.0.0.1"}))
        assert result.size_bytes == len(MP4_BYTES)

    def test_the_exception_is_per_port(self, simulator):
        other = frozenset({f"127.0.0.1:{simulator.port + 1}"})
        refused(simulator.url("/video.mp4"), DownloadReason.ADDRESS, allow=other)


class TestRedirects:
    def test_redirects_are_followed_and_each_hop_is_checked(self, simulator):
        simulator.routes["/a"] = redirect("/b")
        simulator.routes["/b"] = redirect(simulator.url("/video.mp4"), status=307)
        result, body = download(simulator.url("/a"), allow=simulator.allow)
        assert body == MP4_BYTES
        assert result.final_url == simulator.url("/video.mp4")

    @pytest.mark.parametrize(
        "target",
        ["http://127.0.0.1:{other}/video.mp4", "http://localhost:{port}/video.mp4"],
    )
    def test_redirect_to_a_loopback_address_is_refused(self, simulator, target):
        simulator.routes["/go"] = redirect(target.format(port=simulator.port, other=1))
        refused(simulator.url("/go"), DownloadReason.ADDRESS, allow=simulator.allow)

    def test_redirect_to_a_host_resolving_to_a_private_address_is_refused(
        self, monkeypatch, simulator
    ):
        fake_getaddrinfo(monkeypatch, {"internal.test": ["192.168.0.10"]})
        simulator.routes["/go"] = redirect("http://internal.test/admin")
        refused(simulator.url("/go"), DownloadReason.ADDRESS, allow=simulator.allow)

    def test_redirect_to_another_scheme_is_refused(self, simulator):
        simulator.routes["/go"] = redirect("file:///etc/passwd")
        refused(simulator.url("/go"), DownloadReason.SCHEME, allow=simulator.allow)

    def test_too_many_redirects_are_refused(self, simulator):
        simulator.routes["/loop"] = redirect("/loop")
        refused(simulator.url("/loop"), DownloadReason.REDIRECTS, allow=simulator.allow)
        assert len(simulator.seen) == http.MAX_REDIRECTS + 1

    def test_redirect_without_location_is_refused(self, simulator):
        simulator.routes["/go"] = lambda handler: send_body(handler, b"", status=302)
        refused(simulator.url("/go"), DownloadReason.REDIRECTS, allow=simulator.allow)


class TestPinning:
    def test_connection_goes_to_the_address_checked_once(self, monkeypatch, simulator):
        # A rebinding resolver would answer differently the second time; it is asked once.
        calls = fake_getaddrinfo(monkeypatch, {"video.test": ["127.0.0.1"]})
        url = simulator.url("/video.mp4", host="video.test")
        result, _ = download(url, allow=frozenset({"video.test"}))
        assert result.final_url == url
        assert calls.count("video.test") == 1
        assert simulator.seen[-1]["host"] == f"video.test:{simulator.port}"

    def test_https_is_pinned_to_the_ip_with_sni_and_certificate_of_the_name(
        self, monkeypatch, tls_server, tls_cert
    ):
        trust_test_ca(monkeypatch, tls_cert[0])
        fake_getaddrinfo(monkeypatch, {"video.test": ["127.0.0.1"]})
        tls_server.routes["/video.mp4"] = lambda handler: send_body(handler, MP4_BYTES)
        url = tls_server.url("/video.mp4", host="video.test")
        _, body = download(url, allow=frozenset({"video.test"}))
        assert body == MP4_BYTES

    def test_https_certificate_for_another_name_is_refused(self, monkeypatch, tls_server, tls_cert):
        trust_test_ca(monkeypatch, tls_cert[0])
        fake_getaddrinfo(monkeypatch, {"other.test": ["127.0.0.1"]})
        tls_server.routes["/video.mp4"] = lambda handler: send_body(handler, MP4_BYTES)
        with pytest.raises(DownloadError) as caught:
            download(tls_server.url("/video.mp4", host="other.test"), allow={"other.test"})
        assert caught.value.reason is DownloadReason.CONNECTION


def trust_test_ca(monkeypatch, cert_path):
    """Make download sessions trust the test certificate instead of the system CAs."""
    original = http._download_session

    def session_trusting_test_ca(target):
        session = original(target)
        session.verify = str(cert_path)
        return session

    monkeypatch.setattr(http, "_download_session", session_trusting_test_ca)


class TestLimits:
    def test_declared_oversize_body_is_refused_before_reading(self, simulator):
        refused(
            simulator.url("/video.mp4"), DownloadReason.SIZE, allow=simulator.allow, max_bytes=100
        )

    def test_undeclared_oversize_body_is_aborted_while_streaming(self, simulator):
        def endless(handler):
            handler.protocol_version = "HTTP/1.0"  # no length: the body runs to the close
            handler.send_response(200)
            handler.send_header("Content-Type", "video/mp4")
            handler.end_headers()
            handler.wfile.write(MP4_BYTES[:64])
            for _ in range(200):
                handler.wfile.write(b"\x00" * 65536)

        simulator.routes["/big"] = endless
        sink = io.BytesIO()
        with pytest.raises(DownloadRefused) as caught:
            http.download_to_file(
                simulator.url("/big"),
                sink,
                max_bytes=1_000_000,
                timeout_total_s=10,
                allowed_content_types=VIDEO_CONTENT_TYPES,
                allow_loopback_hosts=simulator.allow,
            )
        assert caught.value.reason is DownloadReason.SIZE
        assert len(sink.getvalue()) <= 1_000_000

    def test_slow_drip_body_is_aborted_by_the_total_timeout(self, simulator):
        def drip(handler):
            handler.send_response(200)
            handler.send_header("Content-Type", "video/mp4")
            handler.send_header("Content-Length", str(len(MP4_BYTES)))
            handler.end_headers()
            for byte in MP4_BYTES:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.05)

        simulator.routes["/drip"] = drip
        started = time.monotonic()
        with pytest.raises(DownloadError) as caught:
            download(simulator.url("/drip"), allow=simulator.allow, timeout=1.0)
        assert caught.value.reason is DownloadReason.TIMEOUT
        assert caught.value.retryable is True
        assert time.monotonic() - started < 2.0

    def test_a_server_that_never_answers_is_aborted_by_the_total_timeout(self, simulator):
        simulator.routes["/mute"] = lambda handler: time.sleep(3)
        started = time.monotonic()
        with pytest.raises(DownloadError) as caught:
            download(simulator.url("/mute"), allow=simulator.allow, timeout=0.5)
        assert caught.value.reason is DownloadReason.TIMEOUT
        assert time.monotonic() - started < 1.5


class TestContent:
    @pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream", None])
    def test_content_type_outside_the_list_is_refused(self, simulator, content_type):
        simulator.routes["/x"] = lambda handler: send_body(
            handler, MP4_BYTES, content_type=content_type
        )
        refused(simulator.url("/x"), DownloadReason.CONTENT_TYPE, allow=simulator.allow)

    @pytest.mark.parametrize(
        "body", [b"<html><body>not a video</body></html>" * 10, b"tiny", PNG_BYTES]
    )
    def test_a_body_that_is_not_a_video_is_refused_whatever_its_header(self, simulator, body):
        simulator.routes["/fake.mp4"] = lambda handler: send_body(handler, body)
        refused(simulator.url("/fake.mp4"), DownloadReason.CONTENT, allow=simulator.allow)

    def test_content_type_parameters_and_case_are_ignored(self, simulator):
        simulator.routes["/v"] = lambda handler: send_body(
            handler, MP4_BYTES, content_type="Video/MP4; charset=binary"
        )
        result, _ = download(simulator.url("/v"), allow=simulator.allow)
        assert result.content_type == "video/mp4"

    def test_images_can_be_downloaded_with_the_image_list(self, simulator):
        simulator.routes["/i.png"] = lambda handler: send_body(
            handler, PNG_BYTES, content_type="image/png"
        )
        result, body = download(
            simulator.url("/i.png"), allow=simulator.allow, types=IMAGE_CONTENT_TYPES
        )
        assert (result.content_type, body) == ("image/png", PNG_BYTES)

    @pytest.mark.parametrize(
        ("status", "cls", "retryable"),
        [(404, DownloadRefused, False), (403, DownloadRefused, False), (503, DownloadError, True)],
    )
    def test_error_statuses(self, simulator, status, cls, retryable):
        simulator.routes["/e"] = lambda handler: send_body(handler, b"", status=status)
        with pytest.raises(cls) as caught:
            download(simulator.url("/e"), allow=simulator.allow)
        assert caught.value.reason is DownloadReason.STATUS
        assert (caught.value.status, caught.value.retryable) == (status, retryable)
