"""The API process (``gridimpact api`` under the embedded stack) against misbehaving clients: huge
and slow request heads, HTML without protective headers, docs loaded from a public CDN, redirects
that echo the Host header, and metrics that would tell one tenant about another."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from impact_service.embedded import Stack
from impact_service.http_protocol import HEAD_TIMEOUT_S, MAX_HEAD_BYTES

from .conftest import Tenants, small_spec


def _connect(stack: Stack) -> socket.socket:
    return socket.create_connection((stack.settings.host, stack.settings.port), timeout=HEAD_TIMEOUT_S + 10)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _api_rss_kb(stack: Stack) -> int:
    status = Path(f"/proc/{stack.processes['api'].pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


def test_a_huge_header_is_431_and_the_api_does_not_grow(stack: Stack) -> None:
    """Eight requests with a 50 MB header were answered 200 and grew the API by 440 MB."""
    before = _api_rss_kb(stack)
    for _ in range(4):
        with _connect(stack) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            sent = 0
            try:
                while sent < 50_000_000:
                    sock.sendall(b"a" * 65536)
                    sent += 65536
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server closed the connection: what we expect
            answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert b'"headers_too_large"' in answer
        assert sent < 50_000_000  # refused long before the end
    assert _api_rss_kb(stack) - before < 50_000  # KiB
    small = httpx.get(f"http://{stack.settings.host}:{stack.settings.port}/healthz", headers={"X-Ok": "a" * 8000})
    assert small.status_code == 200  # ordinary headers still pass
    assert MAX_HEAD_BYTES >= 16 * 1024


def test_a_client_that_sends_its_head_slowly_is_dropped(stack: Stack) -> None:
    """300 connections that trickled their headers were held open forever."""
    began = time.monotonic()
    with _connect(stack) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert time.monotonic() - began < HEAD_TIMEOUT_S + 5
    with _connect(stack) as silent:
        assert _read_all(silent) == b""  # opened and never spoke: closed without an answer


def test_html_answers_carry_a_policy_and_the_docs_need_no_cdn(tenants: Tenants) -> None:
    base = tenants.base_url
    for path in ("/docs", "/redoc"):
        page = httpx.get(f"{base}{path}")
        assert page.status_code == 200
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert not re.search(r"(src|href)=\"https?://", page.text), "the docs load assets from another host"
        for asset in re.findall(r"(?:src|href)=\"(/docs-assets/[^\"]+)\"", page.text):
            assert httpx.get(f"{base}{asset}").status_code == 200
    study = tenants.a.submit(small_spec())
    assert tenants.a.wait(study["id"], timeout_s=120)["status"] == "succeeded"
    report = tenants.a.http.get(f"/v1/studies/{study['id']}/report")
    assert report.status_code == 200
    assert "default-src 'none'" in report.headers["content-security-policy"]
    assert report.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{base}/healthz").headers["x-content-type-options"] == "nosniff"


def test_no_redirect_echoes_the_host_header(tenants: Tenants) -> None:
    response = httpx.get(f"{tenants.base_url}/v1/studies/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert "evil.example" not in response.headers.get("location", "")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_metrics_say_nothing_about_tenants(tenants: Tenants) -> None:
    study = tenants.b.submit(small_spec(name="metrics probe"))
    text = httpx.get(f"{tenants.base_url}/metrics").text
    assert "tenant-a" not in text
    assert "tenant-b" not in text
    assert study["id"] not in text
    assert "tenant" not in text.lower()


def _huge_matpower(rows: int) -> bytes:
    body = "\n".join(f"{i} 1 0 0 0 0 1 1 0 230 1 1.1 0.9;" for i in range(1, rows + 1))
    return f"function mpc = big\nmpc.version = '2';\nmpc.baseMVA = 100;\nmpc.bus = [\n{body}\n];\n".encode()


def test_absurd_uploads_are_refused_before_parsing_and_polling_stays_responsive(stack: Stack, tenants: Tenants) -> None:
    """A 43 MB .m with 1.1 million bus rows took 9.9 s and 1.4 GB to refuse; four at once stalled polling for 4 s."""
    content = _huge_matpower(1_100_000)
    assert len(content) > 40_000_000
    before = _api_rss_kb(stack)
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            began = time.monotonic()
            tenants.anonymous.http.get("/healthz")
            latencies.append(time.monotonic() - began)
            time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: tenants.a.http.post("/v1/grids", files={"file": ("big.m", content)}), range(4)))
    finally:
        stop.set()
        poller.join()
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {422, 503}, statuses
    assert 422 in statuses
    for answer in answers:
        if answer.status_code == 422:
            assert "1,100,001 bus rows" in json.dumps(answer.json()["error"]["details"]) or "bus rows" in answer.text
        else:
            assert answer.json()["error"]["code"] == "uploads_busy"
            assert answer.headers["Retry-After"].isdigit()
    assert max(latencies) < 2.0, f"polling stalled {max(latencies):.1f} s"
    assert _api_rss_kb(stack) - before < 400_000  # KiB: the bodies, not a parse (1.4 GB each before)
