"""HTTP/1.0 file service and bulk transfer through the whole stack (virtual time)."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from netstack.services import BulkSink, HttpFileServer, bulk_send
from netstack.sim import LinkParams, Network
from netstack.sim.network import Host
from netstack.socket import TCPSocket

Make = Callable[..., tuple[Network, Host, Host]]
SERVER = ("10.0.0.2", 80)


@pytest.fixture
def pair() -> Iterator[Make]:
    """make(params, seed) -> (net, a, b); every network is closed after the test."""
    made: list[Network] = []

    def make(params: LinkParams | None = None, seed: int = 1) -> tuple[Network, Host, Host]:
        net = Network(seed=seed)
        made.append(net)
        lan = net.segment("lan", params)
        a = net.host("a", lan, "10.0.0.1/24")
        b = net.host("b", lan, "10.0.0.2/24")
        return net, a, b

    yield make
    for net in made:
        net.close()


@pytest.fixture
def www(tmp_path: Path) -> Path:
    """A web root with a 1.5 MB file, an index page in ``site/`` and a plain ``files/``
    directory; ``secret.txt`` sits next to the root, outside it."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "big.bin").write_bytes(pattern(1_500_000, 1))
    (root / "site").mkdir()
    (root / "site" / "index.html").write_bytes(b"<h1>site</h1>\n")
    (root / "files").mkdir()
    (root / "files" / "a b.txt").write_bytes(b"a b\n")
    (root / "files" / "notes.txt").write_bytes(b"notes\n")
    (tmp_path / "secret.txt").write_bytes(b"TOP SECRET\n")
    os.symlink(tmp_path, root / "escape")  # a symlink out of the root
    return root


def pattern(size: int, salt: int) -> bytes:
    return hashlib.shake_128(salt.to_bytes(4, "big")).digest(size)


async def fetch(client: Host, request: bytes, address: tuple[str, int] = SERVER) -> bytes:
    """Send ``request`` as is and read the answer to the server's close."""
    sock = TCPSocket(client)
    await sock.connect(address)
    await sock.send(request)
    got = bytearray()
    while chunk := await sock.recv(65536):
        got += chunk
    sock.close()
    return bytes(got)


def get(path: str, method: str = "GET", version: str = "HTTP/1.1") -> bytes:
    return f"{method} {path} {version}\r\nHost: 10.0.0.2\r\nUser-Agent: test\r\n\r\n".encode()


def split(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of an HTTP/1.0 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status, _reason = lines[0].split(" ", 2)
    assert version == "HTTP/1.0"
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.lower()] = value.strip()
    return int(status), headers, body


def test_get_and_head_of_a_large_file_are_byte_exact_with_its_headers(pair: Make, www: Path):
    net, a, b = pair(LinkParams(latency=1e-3, bandwidth=100e6))
    server = HttpFileServer(b, www)

    async def main() -> tuple[bytes, bytes]:
        await net.start()
        server.start()
        return await fetch(a, get("/big.bin")), await fetch(a, get("/big.bin", "HEAD"))

    got, head = net.run(main())
    data = (www / "big.bin").read_bytes()
    status, headers, body = split(got)
    assert status == 200
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert headers["content-length"] == str(len(data))
    assert headers["content-type"] == "application/octet-stream"
    assert headers["connection"] == "close"
    mtime = int((www / "big.bin").stat().st_mtime)
    assert headers["last-modified"] == email.utils.formatdate(mtime, usegmt=True)
    assert "date" not in headers  # no wall clock is read
    head_status, head_headers, head_body = split(head)
    assert head_status == 200 and head_body == b""
    assert head_headers == headers
    stats = server.stats
    assert stats.requests == 2 and stats.by_status == {200: 2}
    assert stats.bytes_out == len(got) + len(head)


def test_directories_serve_their_index_or_a_listing(pair: Make, www: Path):
    net, a, b = pair()

    async def main() -> tuple[bytes, bytes]:
        await net.start()
        HttpFileServer(b, www).start()
        return await fetch(a, get("/site/")), await fetch(a, get("/files"))

    index, listing = net.run(main())
    status, headers, body = split(index)
    assert (status, body) == (200, b"<h1>site</h1>\n")
    assert headers["content-type"] == "text/html"
    status, headers, body = split(listing)
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b'href="/files/a%20b.txt"' in body and b'href="/files/notes.txt"' in body


def test_missing_file_is_404_and_a_query_string_is_ignored(pair: Make, www: Path):
    net, a, b = pair()
    (www / "q.txt").write_bytes(b"q\n")
    server = HttpFileServer(b, www)

    async def main() -> tuple[bytes, bytes]:
        await net.start()
        server.start()
        return await fetch(a, get("/nothing-here.txt")), await fetch(a, get("/q.txt?x=1#f"))

    missing, query = net.run(main())
    status, headers, body = split(missing)
    assert status == 404 and b"404 Not Found" in body
    assert headers["content-length"] == str(len(body))
    assert split(query)[0::2] == (200, b"q\n")
    assert server.stats.by_status == {404: 1, 200: 1}


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/files/..%2F..%2Fsecret.txt",
        "/files/%2e%2e/%2e%2e/secret.txt",
        "http://10.0.0.2/../secret.txt",
        "/escape/secret.txt",  # through a symlink that leaves the root
        "/etc/passwd",  # absolute paths are under the root, where there is no /etc
        "//etc/passwd",
        "/%2Fetc%2Fpasswd",
        "/secret.txt%00.html",
        "/%ff%fe",
    ],
)
def test_paths_outside_the_root_are_not_found(pair: Make, www: Path, target: str):
    net, a, b = pair()

    async def main() -> bytes:
        await net.start()
        HttpFileServer(b, www).start()
        return await fetch(a, get(target))

    status, _headers, body = split(net.run(main()))
    assert status == 404
    assert b"SECRET" not in body and b"root:" not in body


def test_relative_request_target_is_a_bad_request(pair: Make, www: Path):
    net, a, b = pair()

    async def main() -> bytes:
        await net.start()
        HttpFileServer(b, www).start()
        return await fetch(a, get("../secret.txt"))

    assert split(net.run(main()))[0] == 400


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (get("/big.bin", "POST"), 405),
        (get("/big.bin", "BREW"), 501),
        (get("/big.bin", version="HTTP/2.0"), 505),
        (get("/big.bin", version="HTTX/1.0"), 400),
        (b"GET /big.bin HTTP/1.0\r\nno colon here\r\n\r\n", 400),
        (b"GET\r\n\r\n", 400),
        (b"GET /big.bin HTTP/1.0\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET /big.bin HTTP/1.0\r\n" + b"X-Pad: a\r\n" * 1000, 431),  # never ends
    ],
)
def test_bad_requests_get_small_error_answers(
    pair: Make, www: Path, request_bytes: bytes, status: int
):
    net, a, b = pair()
    server = HttpFileServer(b, www)

    async def main() -> bytes:
        await net.start()
        server.start()
        return await fetch(a, request_bytes)

    got, headers, body = split(net.run(main()))
    assert got == status
    assert 0 < len(body) < 200 and headers["content-length"] == str(len(body))
    if status == 405:
        assert headers["allow"] == "GET, HEAD"
    assert server.stats.by_status == {status: 1}


def test_http09_simple_request_and_if_modified_since(pair: Make, www: Path):
    net, a, b = pair()
    (www / "small.txt").write_bytes(b"small\n")
    mtime = int((www / "small.txt").stat().st_mtime)
    since = email.utils.formatdate(mtime, usegmt=True)
    before = email.utils.formatdate(mtime - 60, usegmt=True)

    async def main() -> list[bytes]:
        await net.start()
        HttpFileServer(b, www).start()
        conditional = "GET /small.txt HTTP/1.0\r\nIf-Modified-Since: {}\r\n\r\n"
        return [
            await fetch(a, b"GET /small.txt\r\n"),  # RFC 1945 §4.1: body only
            await fetch(a, conditional.format(since).encode()),
            await fetch(a, conditional.format(before).encode()),
        ]

    simple, unchanged, changed = net.run(main())
    assert simple == b"small\n"
    status, headers, body = split(unchanged)
    assert (status, body) == (304, b"") and headers["last-modified"] == since
    assert split(changed)[0::2] == (200, b"small\n")


def test_silent_and_trickling_clients_are_cut_off_at_the_timeout(pair: Make, www: Path):
    net, a, b = pair()
    server = HttpFileServer(b, www, timeout=10.0)

    async def silent() -> tuple[bytes, float]:
        sock = TCPSocket(a)
        await sock.connect(SERVER)
        start = net.now()
        got = await sock.recv()  # the server closes: end of stream, no answer
        sock.close()
        return got, net.now() - start

    async def trickle() -> tuple[bytes, float]:
        sock = TCPSocket(a)
        await sock.connect(SERVER)
        start = net.now()
        closed_at: list[float] = []
        reader = asyncio.ensure_future(sock.recv())
        reader.add_done_callback(lambda _: closed_at.append(net.now()))
        for byte in b"GET /big.bin HTTP/1.0\r\n":  # one byte every 3 s: never complete
            if reader.done():
                break
            await sock.send(bytes([byte]))
            await asyncio.sleep(3.0)
        got = await reader
        sock.close()
        return got, closed_at[0] - start

    async def main() -> list[tuple[bytes, float]]:
        await net.start()
        server.start()
        return list(await asyncio.gather(silent(), trickle()))

    (quiet, t_quiet), (slow, t_slow) = net.run(main())
    assert quiet == slow == b""
    assert t_quiet == pytest.approx(10.0, abs=0.01)
    assert t_slow == pytest.approx(10.0, abs=0.01)  # a deadline for the head, not per read
    assert server.stats.timeouts == 2 and server.stats.requests == 0


def test_bulk_send_to_the_sink_counts_every_byte_at_a_plausible_rate(pair: Make):
    bandwidth = 10e6
    net, a, b = pair(LinkParams(bandwidth=bandwidth, latency=1e-3))
    sink = BulkSink(b)
    size = 3_000_000

    async def main():
        await net.start()
        sink.start()
        result = await bulk_send(a, "10.0.0.2", size)
        return result, await sink.wait_completed(1)

    result, transfers = net.run(main())
    assert result.bytes == size
    assert [t.bytes for t in transfers] == [size]
    assert transfers[0].peer.ip == "10.0.0.1"
    assert 0 < transfers[0].seconds <= result.seconds
    assert result.goodput_bps == pytest.approx(8 * size / result.seconds)
    # The link model serialises whole frames (no preamble or FCS): at best 1460 bytes of
    # data in each 1514-byte frame. Slow start and the handshake's round trip cost a little.
    assert 0.8 * bandwidth < result.goodput_bps <= bandwidth * 1460 / 1514
    assert sink.stats.bytes_in == size and sink.completed == 1


def test_two_bulk_senders_share_the_link(pair: Make):
    bandwidth = 10e6
    net, a, b = pair(LinkParams(bandwidth=bandwidth, latency=1e-3))
    sink = BulkSink(b, 5201)

    async def main():
        await net.start()
        sink.start()
        results = await asyncio.gather(
            bulk_send(a, ("10.0.0.2", 5201), 1_000_000),
            bulk_send(a, "10.0.0.2", 700_000, port=5201, chunk=1000),
        )
        return results, await sink.wait_completed(2)

    results, transfers = net.run(main())
    assert sorted(t.bytes for t in transfers) == [700_000, 1_000_000]
    assert [r.bytes for r in results] == [1_000_000, 700_000]
    assert sum(8 * r.bytes for r in results) / max(r.seconds for r in results) <= bandwidth
