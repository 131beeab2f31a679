"""An HTTP/1.0 file server (RFC 1945) on the Socket API: GET and HEAD of files under a root.

One request per connection, as HTTP/1.0 has it: the server reads the request head, answers,
half-closes and closes. HTTP/1.1 requests (curl's) are answered as HTTP/1.0 with
``Connection: close``; an HTTP/0.9 ``GET /path`` line gets the bare body (RFC 1945 §4.1).

Bounds and clocks:

- The request head is at most ``max_head`` bytes (8 KiB): a longer one is answered 431
  (RFC 6585 §5). The whole head must arrive within ``timeout`` seconds of the world's clock
  (a deadline, not a per-read timeout, so a client trickling one byte at a time is cut off
  too); otherwise the connection is closed without an answer. While the answer is sent, a
  client that takes no data for ``timeout`` seconds is dropped the same way.
- ``Last-Modified`` is the file's modification time, which is not a clock reading. There is
  no ``Date`` header: the server reads no wall clock, so a simulation answers the same bytes
  on every run (RFC 7231 §7.1.1.2 lets a server without a reliable clock omit it).

Paths are percent-decoded, split on ``/`` and joined under the root; a ``..`` segment, a NUL,
bytes that are not UTF-8, or a path that resolves (through symlinks) outside the root is 404,
as is anything that is not a regular file or a directory. A directory is answered with its
``index.html`` if there is one, else a small generated listing (the first
:data:`LISTING_LIMIT` names).

Files are read in 64 KiB chunks with ordinary blocking reads on the loop's thread (a local
file read is short; the stack has no threads of its own) and sent with ``await conn.send``.
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import logging
import mimetypes
import os
import re
import ssl
import stat
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes, urlsplit

from netstack import __version__
from netstack.errors import NetworkError, NetworkTimeoutError
from netstack.services.tcp import TcpService, TcpServiceStats
from netstack.socket.base import HasStack
from netstack.socket.tcp import TCPSocket
from netstack.socket.tls import TLSSocket
from netstack.stacks.core.api import NetworkStack

log = logging.getLogger(__name__)

MAX_HEAD = 8192
CHUNK = 65536
LISTING_LIMIT = 1000
SERVER = f"netstack/{__version__}"

#: Methods we know but do not allow on files (405 with ``Allow``); other tokens get 501.
KNOWN_METHODS = frozenset(
    {"POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "LINK", "UNLINK"}
)
ALLOWED = "GET, HEAD"

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 1945 §2.2 token
_VERSION = re.compile(rb"HTTP/(\d{1,3})\.(\d{1,3})")  # RFC 1945 §3.1
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


class HttpError(Exception):
    """A request answered with an error status instead of a file."""

    def __init__(self, status: HTTPStatus, reason: str = "") -> None:
        super().__init__(reason or status.phrase)
        self.status = status


@dataclass(slots=True)
class HttpRequest:
    """A parsed request head. ``version`` is None for an HTTP/0.9 simple request."""

    method: str
    target: str
    version: tuple[int, int] | None
    headers: dict[str, str] = field(default_factory=dict)  # names lower-case

    @property
    def simple(self) -> bool:
        return self.version is None


@dataclass(slots=True)
class HttpStats(TcpServiceStats):
    """``requests``: well-formed requests (a malformed or oversized head shows only in
    ``by_status``); ``by_status``: answers by status code; ``timeouts``: clients closed for
    being silent or slow; ``bytes_in``: request heads read; ``bytes_out``: everything sent
    (heads and bodies)."""

    requests: int = 0
    timeouts: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


# -- the request head: pure functions over bytes -------------------------------------------
def head_length(buf: bytes | bytearray | memoryview) -> int | None:
    """Length of the complete request head at the start of ``buf`` (up to and including
    the blank line, or the one line of a simple request), or None if it is incomplete.
    Bare LF line ends are accepted (RFC 1945 §2.2 tolerant applications)."""
    data = bytes(buf)
    first_end = data.find(b"\n")
    if first_end < 0:
        return None
    if len(data[:first_end].split()) == 2:
        return first_end + 1  # RFC 1945 §4.1 Simple-Request: "GET" SP Request-URI CRLF
    match = _BLANK_LINE.search(data, first_end - 1 if first_end > 0 else 0)
    return None if match is None else match.end()


def parse_request(head: bytes | bytearray | memoryview) -> HttpRequest:
    """Parse a complete request head (RFC 1945 §5); HttpError(400/505) if malformed."""
    lines = bytes(head).replace(b"\r\n", b"\n").split(b"\n")
    parts = lines[0].split()
    if len(parts) == 2 and parts[0] == b"GET":
        return HttpRequest("GET", parts[1].decode("latin-1"), None)
    if len(parts) != 3:
        raise HttpError(HTTPStatus.BAD_REQUEST, "malformed request line")
    method, target, version = parts
    if not _TOKEN.fullmatch(method):
        raise HttpError(HTTPStatus.BAD_REQUEST, "malformed method")
    match = _VERSION.fullmatch(version)
    if match is None:
        raise HttpError(HTTPStatus.BAD_REQUEST, "malformed HTTP version")
    major, minor = int(match[1]), int(match[2])
    if major != 1:
        raise HttpError(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED)
    request = HttpRequest(method.decode("ascii"), target.decode("latin-1"), (major, minor))
    name = ""
    for line in lines[1:]:
        if not line:
            continue  # the blank line that ends the head
        if line[:1] in (b" ", b"\t"):  # RFC 1945 §4.2: LWS continues the previous field
            if not name:
                raise HttpError(HTTPStatus.BAD_REQUEST, "continuation before any header")
            request.headers[name] += " " + line.strip().decode("latin-1")
            continue
        raw_name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(raw_name):
            raise HttpError(HTTPStatus.BAD_REQUEST, "malformed header field")
        name = raw_name.decode("ascii").lower()
        text = value.strip().decode("latin-1")
        old = request.headers.get(name)
        request.headers[name] = text if old is None else f"{old}, {text}"
    return request


def resolve_target(root: Path, target: str) -> tuple[Path, str] | None:
    """Map a request target to ``(file system path, normalised URL path)`` under ``root``
    (an absolute, symlink-free path), or None (404) for anything that is not safely inside
    it. HttpError(400) if the target is not an absolute path or absolute URI."""
    path = target
    if "://" in path[:10]:  # RFC 1945 §5.1.2 absoluteURI: only its path matters
        path = urlsplit(path).path or "/"
    path = path.split("#", 1)[0].split("?", 1)[0]
    if not path.startswith("/"):
        raise HttpError(HTTPStatus.BAD_REQUEST, "request target is not an absolute path")
    try:
        decoded = unquote_to_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\0" in decoded:
        return None
    segments: list[str] = []
    for segment in decoded.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            return None  # no clamping at the root (RFC 3986 §5.2.4 would): refuse outright
        segments.append(segment)
    real = Path(os.path.realpath(root.joinpath(*segments)))
    if real != root and root not in real.parents:
        return None  # a symlink leads out of the root
    return real, "/" + "/".join(segments)


def http_date(timestamp: float) -> str:
    """RFC 1945 §3.3 / RFC 7231 §7.1.1.1 IMF-fixdate."""
    return email.utils.formatdate(timestamp, usegmt=True)


def response_head(status: HTTPStatus, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.0 {status.value} {status.phrase}", f"Server: {SERVER}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def error_body(status: HTTPStatus) -> bytes:
    title = f"{status.value} {status.phrase}"
    page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
    return page.encode()


def listing_body(directory: Path, url_path: str) -> bytes:
    """A small HTML index of ``directory`` (at most :data:`LISTING_LIMIT` names)."""
    base = url_path.rstrip("/") + "/"
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        names = []
    shown = names[:LISTING_LIMIT]
    title = html.escape(base.encode("utf-8", "replace").decode())
    rows = []
    if base != "/":
        rows.append('<li><a href="../">../</a></li>')
    for name in shown:
        slash = "/" if (directory / name).is_dir() else ""
        href = quote(os.fsencode(name)) + slash
        label = html.escape(name.encode("utf-8", "replace").decode()) + slash
        rows.append(f'<li><a href="{quote(base)}{href}">{label}</a></li>')
    if len(names) > len(shown):
        rows.append(f"<li>… {len(names) - len(shown)} more</li>")
    body = (
        f"<html><head><title>Index of {title}</title></head><body>"
        f"<h1>Index of {title}</h1><ul>\n" + "\n".join(rows) + "\n</ul></body></html>\n"
    )
    return body.encode("utf-8")


def _content_type(path: Path) -> str:
    kind, encoding = mimetypes.guess_type(path.name)
    if kind is None or encoding is not None:
        return "application/octet-stream"  # a .gz is sent as it is, not as its content
    return kind


def _not_modified(request: HttpRequest, mtime: int) -> bool:
    """RFC 1945 §10.9 If-Modified-Since: an invalid date is ignored."""
    value = request.headers.get("if-modified-since")
    if value is None or request.method != "GET":
        return False
    try:
        since = email.utils.parsedate_to_datetime(value.split(";", 1)[0])
    except (TypeError, ValueError, IndexError):
        return False
    return since.tzinfo is not None and mtime <= since.timestamp()


# -- the service ---------------------------------------------------------------------------
class HttpFileServer(TcpService):
    """Serves the files under ``root`` over HTTP/1.0 (GET, HEAD), one request per connection;
    with ``tls`` (a server SSLContext holding the certificate) over HTTPS, on port 443 by
    default. The TLS handshake shares the request head's ``timeout``."""

    default_port = 80
    name = "http"
    stats: HttpStats

    def __init__(
        self,
        stack: NetworkStack | HasStack,
        root: str | os.PathLike[str],
        port: int | None = None,
        *,
        backlog: int = 16,
        timeout: float = 10.0,
        max_head: int = MAX_HEAD,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if port is None and tls is not None:
            port = 443
        super().__init__(stack, port, backlog=backlog)
        self.tls = tls
        if tls is not None:
            self.name = "https"
        resolved = Path(os.path.realpath(root))
        if not resolved.is_dir():
            raise NotADirectoryError(f"HTTP root {root!s} is not a directory")
        self.root = resolved
        self.timeout = timeout
        self.max_head = max_head
        self.stats = HttpStats()

    async def serve(self, conn: TCPSocket) -> None:
        if self.tls is None:
            await self._serve(conn)
            return
        conn.set_timeout(self.timeout)
        try:
            tls = await TLSSocket.wrap(conn, self.tls, server_side=True)
        except NetworkTimeoutError:
            self.stats.timeouts += 1
            log.debug("https: no TLS handshake within %s s, closing", self.timeout)
            return
        try:
            await self._serve(tls)
        finally:  # the service closes the TCPSocket, which handed its connection over
            if tls.is_open:
                tls.close()

    async def _serve(self, conn: TCPSocket) -> None:
        try:
            answered = await self._exchange(conn)
        except NetworkTimeoutError:
            self.stats.timeouts += 1
            log.debug("http: client silent for %s s, closing", self.timeout)
            return
        if answered:
            await self._linger(conn)

    async def _exchange(self, conn: TCPSocket) -> bool:
        """Read one request and answer it; False if the client closed without asking."""
        request: HttpRequest | None = None
        try:
            head = await self._read_head(conn)
            if head is None:
                return False
            request = parse_request(head)
            await self._answer(conn, request)
        except HttpError as exc:
            await self._send_error(conn, request, exc.status)
        return True

    async def _read_head(self, conn: TCPSocket) -> bytes | None:
        """The request head (None if the client closed first); bytes after it are left
        unread. NetworkTimeoutError past the deadline, HttpError(431/400)."""
        loop_time = conn.stack.world.now
        deadline = loop_time() + self.timeout
        buf = bytearray()
        while True:
            while buf.startswith((b"\r", b"\n")):
                del buf[:1]  # RFC 7230 §3.5: ignore empty lines before the request line
            end = head_length(buf)
            if end is not None:
                if end > self.max_head:
                    raise HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
                self.stats.bytes_in += end
                return bytes(buf[:end])
            if len(buf) > self.max_head:
                raise HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
            remaining = deadline - loop_time()
            if remaining <= 0:
                raise NetworkTimeoutError(f"request head not complete after {self.timeout} s")
            conn.set_timeout(remaining)
            chunk = await conn.recv(self.max_head + 1 - len(buf))
            if not chunk:
                if buf:
                    raise HttpError(HTTPStatus.BAD_REQUEST, "incomplete request head")
                return None
            buf += chunk

    async def _answer(self, conn: TCPSocket, request: HttpRequest) -> None:
        self.stats.requests += 1
        if request.method not in ("GET", "HEAD"):
            if request.method in KNOWN_METHODS:
                raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED)
            raise HttpError(HTTPStatus.NOT_IMPLEMENTED)
        found = resolve_target(self.root, request.target)
        if found is None:
            raise HttpError(HTTPStatus.NOT_FOUND)
        path, url_path = found
        if path.is_dir():
            index = path / "index.html"
            if not index.is_file():
                body = listing_body(path, url_path)
                headers = [("Content-Type", "text/html; charset=utf-8")]
                await self._send(conn, request, HTTPStatus.OK, headers, body)
                return
            path = index
        await self._send_file(conn, request, path)

    async def _send_file(self, conn: TCPSocket, request: HttpRequest, path: Path) -> None:
        try:  # O_NONBLOCK: opening a FIFO must not hang the loop (checked just below)
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise HttpError(HTTPStatus.NOT_FOUND) from exc
        with open(fd, "rb", buffering=0) as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise HttpError(HTTPStatus.NOT_FOUND)
            mtime = int(st.st_mtime)
            headers = [("Last-Modified", http_date(mtime))]
            if _not_modified(request, mtime):
                await self._send(conn, request, HTTPStatus.NOT_MODIFIED, headers, b"")
                return
            size = st.st_size
            headers = [("Content-Type", _content_type(path)), ("Content-Length", str(size))]
            headers.append(("Last-Modified", http_date(mtime)))
            self._count(HTTPStatus.OK)
            conn.set_timeout(self.timeout)
            if not request.simple:
                await self._write(conn, response_head(HTTPStatus.OK, headers))
            if request.method == "HEAD":
                return
            left = size
            while left > 0:  # at most the announced length, even if the file grows
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    break  # the file shrank: the client sees a short body and the close
                await self._write(conn, chunk)
                left -= len(chunk)

    async def _send(
        self,
        conn: TCPSocket,
        request: HttpRequest | None,
        status: HTTPStatus,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        """A whole response: head (unless HTTP/0.9) and body (unless HEAD or 304)."""
        self._count(status)
        conn.set_timeout(self.timeout)
        with_body = status is not HTTPStatus.NOT_MODIFIED and (
            request is None or request.method != "HEAD"
        )
        out = b""
        if request is None or not request.simple:
            if status is not HTTPStatus.NOT_MODIFIED:
                headers = [*headers, ("Content-Length", str(len(body)))]
            out = response_head(status, headers)
        await self._write(conn, out + body if with_body else out)

    async def _send_error(
        self, conn: TCPSocket, request: HttpRequest | None, status: HTTPStatus
    ) -> None:
        headers = [("Content-Type", "text/html; charset=utf-8")]
        if status is HTTPStatus.METHOD_NOT_ALLOWED:
            headers.append(("Allow", ALLOWED))
        log.debug("http: %s for %s", status.value, request.target if request else "-")
        await self._send(conn, request, status, headers, error_body(status))

    async def _write(self, conn: TCPSocket, data: bytes) -> None:
        await conn.send(data)
        self.stats.bytes_out += len(data)

    def _count(self, status: HTTPStatus) -> None:
        by_status = self.stats.by_status
        by_status[status.value] = by_status.get(status.value, 0) + 1

    async def _linger(self, conn: TCPSocket) -> None:
        """Half-close, then read what the client still sends until it closes (at most
        ``timeout`` seconds), so that closing with unread data does not reset the answer
        away (RFC 1122 §4.2.2.13; Apache's "lingering close")."""
        conn.shutdown()
        loop_time = conn.stack.world.now
        deadline = loop_time() + self.timeout
        with contextlib.suppress(NetworkError):
            while (remaining := deadline - loop_time()) > 0:
                conn.set_timeout(remaining)
                if not await conn.recv(CHUNK):
                    return
