"""TcpLayer: TCP's place in the stack — demultiplexing, listeners, ports, output, timers.

Each connection is a sans-I/O :class:`TcpConnection`; this glue follows the stack's one
idiom: feed a segment (or an API verb), drain ``next_event()`` into socket readiness,
flush ``packets_to_send(now)`` to IPv4, re-arm the connection's single loop timer. API
calls mark a connection dirty and schedule one flush for the loop turn, so ten ``send()``
calls make one batch. Demultiplexing is one dict lookup on the 4-tuple; a segment for no
connection and no listener is answered with a RST (RFC 9293 §3.10.7.1).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netstack.address import SocketAddress
from netstack.drivers.emac.api import GsoType, RxFlags, TxOffload
from netstack.errors import (
    AddressInUseError,
    ConnectionLostError,
    ConnectionRefused,
    ConnectionTimeoutError,
    HostUnreachableError,
    IsConnectedError,
    NoConnectionError,
    NoMemoryError,
    ParameterError,
    WouldBlockError,
)
from netstack.runtime.timer import DeadlineTimer
from netstack.stacks.core.binding import ANY4, WILDCARDS, check_local_address, overlaps
from netstack.stacks.core.ipv6 import Ipv6Layer
from netstack.stacks.core.link import IpHeader, NetIf
from netstack.stacks.core.tcp.connection import (
    Closed,
    Connected,
    TcpConfig,
    TcpConnection,
    TcpState,
)
from netstack.stacks.core.tcp.ids import TcpIdentifiers
from netstack.stacks.core.tcp.listener import Key, SynCookies, TcpListener
from netstack.wire import ChecksumError, DecodeError
from netstack.wire.icmpv6 import Icmpv6Type
from netstack.wire.ipv4 import IpProto
from netstack.wire.ipv6 import Ipv6Header, is_link_local
from netstack.wire.tcp import TcpFlags, TcpHeader, TcpOptions

if TYPE_CHECKING:
    from netstack.stacks.core.stack import CoreStack

log = logging.getLogger(__name__)

# plain ints: IntFlag arithmetic is Python-level and costs ~1 µs per segment
_SYN = int(TcpFlags.SYN)
_SYN_ACK_RST = int(TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)
#: Room for the link, IPv4 and TCP headers at their largest within a GSO frame.
_TSO_HEADROOM = 14 + 20 + 60
#: IPv4 total length is 16 bits.
_MAX_IPV4_PAYLOAD = 65535 - 20
_ERRORS: dict[str, type[Exception]] = {
    "refused": ConnectionRefused,
    "reset": ConnectionLostError,
    "timeout": ConnectionTimeoutError,
    "aborted": ConnectionLostError,
    "unreachable": HostUnreachableError,
}


@dataclass(slots=True)
class TcpLayerStats:
    rx_segments: int = 0
    rx_malformed: int = 0
    rx_bad_checksum: int = 0
    rx_no_connection: int = 0
    tx_segments: int = 0
    tx_resets: int = 0
    syn_cookies_sent: int = 0
    syn_cookies_accepted: int = 0
    connections_opened: int = 0
    connections_accepted: int = 0
    connections_closed: int = 0


class TcpEndpoint:
    """A TCP socket handle: a listener, a connection, or neither yet."""

    def __init__(self, layer: TcpLayer) -> None:
        self.layer = layer
        self.config: TcpConfig = dataclasses.replace(layer.config)
        self.local_ip = ANY4
        self.local_port = 0
        self.remote_ip = ANY4
        self.remote_port = 0
        self.conn: TcpConnection | None = None
        self.listener: TcpListener | None = None
        self.parent: TcpListener | None = None  # for a connection not yet accepted
        self.netif: NetIf | None = None
        self.callback: Callable[[], None] | None = None
        self.reuse = False
        self.closed = False  # the application closed its handle
        self.error: str | None = None
        self.connected = False
        self.iss = 0  # our initial sequence number, once connecting
        self.path_mtu = 65535  # the IPv6 path MTU last seen for the peer
        self.timer = DeadlineTimer(layer.world, lambda: layer._on_timer(self))

    @property
    def key(self) -> Key:
        return (self.local_ip, self.local_port, self.remote_ip, self.remote_port)

    def notify(self) -> None:
        cb = self.callback
        if cb is not None:
            cb()


class TcpLayer:
    """TCP for one stack (IPv4 today; the machine is address-family agnostic)."""

    def __init__(self, stack: CoreStack, config: TcpConfig | None = None) -> None:
        self.stack = stack
        self.world = stack.world
        self.config = config or TcpConfig()
        self.counters = TcpLayerStats()
        #: offload requests by (link header, TCP header, GSO size, address length)
        self._offloads: dict[tuple[int, int, int, int], TxOffload] = {}
        self.ids = TcpIdentifiers(self.world.rng)
        self.cookies = SynCookies(self.ids.cookie_key)
        self.connections: dict[Key, TcpEndpoint] = {}
        self.listeners: dict[int, list[TcpEndpoint]] = {}
        self.bound: dict[int, list[TcpEndpoint]] = {}
        self._dirty: dict[TcpEndpoint, None] = {}
        self._flush_scheduled = False

    # -- socket operations -----------------------------------------------------------------
    def open(self) -> TcpEndpoint:
        return TcpEndpoint(self)

    def bind(self, ep: TcpEndpoint, ip: bytes, port: int) -> None:
        if ep.local_port:
            raise ParameterError("socket already bound")
        check_local_address(ip, self.stack.ip_layer(ip).local)
        if port == 0:
            for candidate in self.ids.ephemeral_ports(ip, ANY4, 0):
                if candidate not in self.bound:
                    port = candidate
                    break
            else:
                raise NoMemoryError("no free TCP port")
        else:
            for other in self.bound.get(port, ()):
                shared = ep.reuse and other.reuse and other.listener is None  # not a listener's
                if overlaps(other.local_ip, ip) and not shared:
                    raise AddressInUseError(f"TCP port {port} in use")
        ep.local_ip = ip
        ep.local_port = port
        self.bound.setdefault(port, []).append(ep)

    def listen(self, ep: TcpEndpoint, backlog: int) -> None:
        if ep.conn is not None:
            raise IsConnectedError("socket is connected")
        if not ep.local_port:
            self.bind(ep, ANY4, 0)
        if ep.listener is not None:
            ep.listener.backlog = max(1, backlog)
            return
        ep.listener = TcpListener(ep.local_ip, ep.local_port, backlog, on_ready=ep.notify)
        self.listeners.setdefault(ep.local_port, []).append(ep)

    def connect(self, ep: TcpEndpoint, ip: bytes, port: int, scope_id: int = 0) -> None:
        if ep.listener is not None:
            raise ParameterError("socket is listening")
        if ep.conn is not None:
            raise IsConnectedError("connect already started")
        if port == 0:
            raise ParameterError("destination port 0")
        net = self.stack.ip_layer(ip)
        netif, _next_hop, src = (
            net.route(ip, scope_id) if isinstance(net, Ipv6Layer) else net.route(ip)
        )
        if ep.local_ip not in WILDCARDS:
            if len(ep.local_ip) != len(ip):
                raise ParameterError("the socket is bound to the other address family")
            src = ep.local_ip
        if not ep.local_port:
            for candidate in self.ids.ephemeral_ports(src, ip, port):
                if (src, candidate, ip, port) not in self.connections and (
                    candidate not in self.listeners
                ):
                    self._claim_port(ep, candidate)
                    break
            else:
                raise NoMemoryError("no free TCP port for this destination")
        elif (src, ep.local_port, ip, port) in self.connections:
            raise AddressInUseError("that connection already exists")
        ep.local_ip = src
        ep.remote_ip = ip
        ep.remote_port = port
        ep.netif = netif
        now = self.world.now()
        iss = ep.iss = self.ids.isn(src, ep.local_port, ip, port, now)
        ep.conn = TcpConnection(
            ep.local_port,
            port,
            iss,
            _config_for(ep.config, netif, len(ip) == 16),
            ts_offset=self.ids.ts_offset(src, ip),
        )
        _use_offloads(ep.conn, netif)
        self.connections[ep.key] = ep
        self.counters.connections_opened += 1
        ep.conn.connect(now)
        self._process(ep)

    def _claim_port(self, ep: TcpEndpoint, port: int) -> None:
        ep.local_port = port
        self.bound.setdefault(port, []).append(ep)

    def accept(self, ep: TcpEndpoint) -> tuple[TcpEndpoint, SocketAddress]:
        listener = ep.listener
        if listener is None:
            raise ParameterError("socket is not listening")
        child = listener.pop()
        if child is None:
            raise WouldBlockError("no connection to accept")
        assert isinstance(child, TcpEndpoint)
        child.parent = None
        self.counters.connections_accepted += 1
        return child, SocketAddress.from_packed(child.remote_ip, child.remote_port)

    def send(self, ep: TcpEndpoint, data: bytes) -> int:
        conn = self._connection(ep)
        taken = conn.send(data, self.world.now())
        if taken == 0 and data:
            raise WouldBlockError("send buffer full")
        self._mark(ep)
        return taken

    def recv(self, ep: TcpEndpoint, max_bytes: int) -> bytes:
        conn = ep.conn
        if conn is None:
            raise NoConnectionError("socket is not connected")
        data = conn.recv(max_bytes, self.world.now())
        if data:
            self._mark(ep)
            return data
        if conn.peer_closed or conn.state in (TcpState.CLOSED, TcpState.TIME_WAIT):
            self._raise_error(ep)
            return b""  # end of stream
        self._raise_error(ep)
        raise WouldBlockError("no data")

    def shutdown_write(self, ep: TcpEndpoint) -> None:
        self._connection(ep).shutdown_write(self.world.now())
        self._mark(ep)

    def close(self, ep: TcpEndpoint) -> None:
        """The application closes its handle; the connection finishes on its own."""
        ep.closed = True
        ep.callback = None
        if ep.listener is not None:
            self._close_listener(ep)
        elif ep.conn is not None and ep.conn.state is not TcpState.CLOSED:
            ep.conn.close(self.world.now())
            self._mark(ep)
        else:
            self._release(ep)

    def abort(self, ep: TcpEndpoint) -> None:
        if ep.conn is not None:
            ep.conn.abort(self.world.now())
            self._mark(ep)

    def readable(self, ep: TcpEndpoint) -> bool:
        if ep.listener is not None:
            return bool(ep.listener.accept_queue)
        conn = ep.conn
        return conn is not None and (conn.readable > 0 or conn.peer_closed or ep.error is not None)

    def writable(self, ep: TcpEndpoint) -> bool:
        conn = ep.conn
        if conn is None or ep.error is not None:
            return ep.error is not None
        return ep.connected and conn.writable > 0

    def _connection(self, ep: TcpEndpoint) -> TcpConnection:
        self._raise_error(ep)
        if ep.conn is None or not ep.connected:
            raise NoConnectionError("socket is not connected")
        return ep.conn

    def _raise_error(self, ep: TcpEndpoint) -> None:
        if ep.error is not None:
            raise _ERRORS.get(ep.error, ConnectionLostError)(f"connection {ep.error}")

    def _close_listener(self, ep: TcpEndpoint) -> None:
        listener = ep.listener
        assert listener is not None
        listener.closed = True
        while (child := listener.pop()) is not None:
            assert isinstance(child, TcpEndpoint)
            self.abort(child)
        for key in list(listener.syn_queue):
            half = self.connections.get(key)
            if half is not None:
                self.abort(half)
        eps = self.listeners.get(ep.local_port)
        if eps and ep in eps:
            eps.remove(ep)
            if not eps:
                del self.listeners[ep.local_port]
        self._release(ep)

    def _release(self, ep: TcpEndpoint) -> None:
        eps = self.bound.get(ep.local_port)
        if eps and ep in eps:
            eps.remove(ep)
            if not eps:
                del self.bound[ep.local_port]
        if self.connections.get(ep.key) is ep:
            del self.connections[ep.key]
        ep.timer.cancel()

    # -- input -----------------------------------------------------------------------------
    def input(self, netif: NetIf, ip: IpHeader, payload: memoryview, flags: RxFlags) -> None:
        c = self.counters
        c.rx_segments += 1
        try:
            if flags and flags & RxFlags.CSUM_VALID:
                hdr, data = TcpHeader.parse(payload)
            else:
                hdr, data = TcpHeader.parse(payload, src=ip.src, dst=ip.dst)
        except ChecksumError:
            c.rx_bad_checksum += 1
            return
        except DecodeError:
            c.rx_malformed += 1
            return
        if ip.dst not in self.stack.ip_layer(ip.dst).local:
            return  # RFC 1122 §4.2.3.10: no TCP to broadcast or multicast
        now = self.world.now()
        ep = self.connections.get((ip.dst, hdr.dst_port, ip.src, hdr.src_port))
        if ep is not None and ep.conn is not None:
            conn = ep.conn
            reopen = (
                conn.state is TcpState.TIME_WAIT
                and hdr.flags & _SYN_ACK_RST == _SYN
                and conn.accepts_new_syn(hdr)
            )
            if not reopen:
                conn.receive(hdr, data, now)  # a view: the receiver copies what it keeps
                # flush once per loop turn: a driver delivers a batch of frames per wake-up,
                # and the segments of a batch then share one output pass and timer re-arm
                self._mark(ep)
                return
            # RFC 6191 / RFC 9293 §3.10.7.4: a new SYN ends the TIME-WAIT incarnation and
            # goes to the listener as a new connection
            ep.closed = True
            self._closed(ep)
        listening = self._listener_for(ip.dst, hdr.dst_port)
        seg_flags = hdr.flags
        if listening is not None and not seg_flags & TcpFlags.RST:
            if seg_flags & TcpFlags.SYN and not seg_flags & TcpFlags.ACK:
                self._syn(listening, netif, ip, hdr, now)
                return
            is_ack = seg_flags & TcpFlags.ACK and not seg_flags & TcpFlags.SYN
            if is_ack and self._cookie_ack(listening, netif, ip, hdr, bytes(data), now):
                return
        c.rx_no_connection += 1
        self._reset_for(ip, hdr, len(data))

    def _listener_for(self, ip: bytes, port: int) -> TcpEndpoint | None:
        for ep in self.listeners.get(port, ()):
            local = ep.local_ip
            if (
                (local == ip or local in WILDCARDS)
                and ep.listener is not None
                and not ep.listener.closed
            ):
                return ep
        return None

    def _syn(
        self, lep: TcpEndpoint, netif: NetIf, ip: IpHeader, hdr: TcpHeader, now: float
    ) -> None:
        listener = lep.listener
        assert listener is not None
        listener.stats.syns += 1
        key = (ip.dst, hdr.dst_port, ip.src, hdr.src_port)
        peer_mss = hdr.options.mss if hdr.options and hdr.options.mss else 536
        if listener.syn_queue_full or listener.accept_queue_full:
            listener.stats.syn_queue_full += 1
            self._send_cookie(listener, netif, ip, hdr, key, peer_mss, now)
            return
        child = TcpEndpoint(self)
        child.config = dataclasses.replace(lep.config)
        child.local_ip, child.local_port, child.remote_ip, child.remote_port = key
        child.netif = netif
        child.parent = listener
        iss = self.ids.isn(ip.dst, hdr.dst_port, ip.src, hdr.src_port, now)
        child.conn = TcpConnection.accept(
            hdr,
            hdr.dst_port,
            iss,
            _config_for(child.config, netif, len(ip.dst) == 16),
            now,
            ts_offset=self.ids.ts_offset(ip.dst, ip.src),
        )
        _use_offloads(child.conn, netif)
        listener.syn_queue.add(key)
        self.connections[key] = child
        self._process(child)

    def _send_cookie(
        self,
        listener: TcpListener,
        netif: NetIf,
        ip: IpHeader,
        hdr: TcpHeader,
        key: Key,
        peer_mss: int,
        now: float,
    ) -> None:
        cookie, mss = self.cookies.make(key, hdr.seq, peer_mss, now)
        listener.stats.cookies_sent += 1
        self.counters.syn_cookies_sent += 1
        reply = TcpHeader(
            hdr.dst_port,
            hdr.src_port,
            cookie,
            (hdr.seq + 1) & 0xFFFFFFFF,
            TcpFlags.SYN | TcpFlags.ACK,
            min(65535, self.config.rcvbuf),
            options=TcpOptions(mss=mss),
        )
        self._emit(netif, ip.dst, ip.src, reply, b"")

    def _cookie_ack(
        self,
        lep: TcpEndpoint,
        netif: NetIf,
        ip: IpHeader,
        hdr: TcpHeader,
        payload: bytes,
        now: float,
    ) -> bool:
        """An ACK for no connection: the third step of a handshake we answered with a
        cookie? Then rebuild the connection from it (options other than MSS are lost)."""
        listener = lep.listener
        assert listener is not None
        key = (ip.dst, hdr.dst_port, ip.src, hdr.src_port)
        client_isn = (hdr.seq - 1) & 0xFFFFFFFF
        cookie = (hdr.ack - 1) & 0xFFFFFFFF
        mss = self.cookies.check(key, client_isn, cookie, now)
        if mss is None:
            listener.stats.cookies_rejected += 1
            return False
        if listener.accept_queue_full:
            listener.stats.accept_queue_full += 1
            return True  # drop: the client retransmits, as Linux does
        listener.stats.cookies_accepted += 1
        self.counters.syn_cookies_accepted += 1
        syn = TcpHeader(
            hdr.src_port, hdr.dst_port, client_isn, 0, TcpFlags.SYN, hdr.window,
            options=TcpOptions(mss=mss),
        )  # fmt: skip
        child = TcpEndpoint(self)
        child.config = dataclasses.replace(lep.config, window_scaling=False, sack=False,
                                           timestamps=False)  # fmt: skip
        child.local_ip, child.local_port, child.remote_ip, child.remote_port = key
        child.netif = netif
        child.parent = listener
        config = _config_for(child.config, netif, len(ip.dst) == 16)
        conn = TcpConnection.accept(syn, hdr.dst_port, cookie, config, now)
        _use_offloads(conn, netif)
        conn.packets_to_send(now)  # the SYN-ACK was already sent, statelessly
        child.conn = conn
        self.connections[key] = child
        conn.receive(hdr, payload, now)
        self._process(child)
        return True

    def _reset_for(self, ip: IpHeader, hdr: TcpHeader, payload_len: int) -> None:
        """RFC 9293 §3.10.7.1: answer a segment for no connection with a RST."""
        if hdr.flags & TcpFlags.RST:
            return
        if hdr.flags & TcpFlags.ACK:
            reply = TcpHeader(hdr.dst_port, hdr.src_port, hdr.ack, 0, TcpFlags.RST, 0)
        else:
            seg_len = hdr.segment_length(payload_len)
            reply = TcpHeader(
                hdr.dst_port,
                hdr.src_port,
                0,
                (hdr.seq + seg_len) & 0xFFFFFFFF,
                TcpFlags.RST | TcpFlags.ACK,
                0,
            )
        self.counters.tx_resets += 1
        try:
            netif, next_hop, _src = self._route(ip.src, netif_hint=None)
        except OSError:
            return
        self._send(netif, next_hop, ip.dst, ip.src, reply, b"")

    # -- processing and output -------------------------------------------------------------------
    def _mark(self, ep: TcpEndpoint) -> None:
        if self.world.loop.is_closed():
            return  # the world is gone (a task closing its socket at shutdown)
        self._dirty[ep] = None
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.world.call_soon(self._flush_dirty)

    def _flush_dirty(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, {}
        for ep in dirty:
            self._process(ep)

    def _process(self, ep: TcpEndpoint) -> None:
        conn = ep.conn
        if conn is None:
            return
        now = self.world.now()
        if len(ep.remote_ip) == 16 and ep.netif is not None:
            pmtu = self.stack.ipv6.path_mtu(ep.remote_ip, ep.netif)
            if pmtu < ep.path_mtu:
                conn.path_mtu_changed(pmtu - 40)  # IPv6 header; TCP's own in the call
            ep.path_mtu = pmtu
        segments = conn.packets_to_send(now)
        if segments:
            netif = ep.netif
            try:
                route_netif, next_hop, _src = self._route(ep.remote_ip, netif)
            except OSError:
                route_netif, next_hop = None, b""
            out = route_netif or netif
            if out is not None:
                csum_offload = out.link.capabilities.tx_checksum
                for seg in segments:
                    self._send(out, next_hop or ep.remote_ip, ep.local_ip, ep.remote_ip,
                               seg.header, seg.payload, seg.gso_size, csum_offload)  # fmt: skip
        notify = False
        while (event := conn.next_event()) is not None:
            notify = True
            if isinstance(event, Connected):
                ep.connected = True
                parent = ep.parent
                if parent is not None:
                    parent.syn_queue.discard(ep.key)
                    if not parent.established(ep):
                        conn.abort(now)
            elif isinstance(event, Closed):
                if event.error is not None and ep.error is None:
                    ep.error = event.error
                self._closed(ep)
        if notify:
            ep.notify()
        if conn.state is TcpState.CLOSED:
            self._closed(ep)
            return
        self._arm(ep)

    def _closed(self, ep: TcpEndpoint) -> None:
        if self.connections.get(ep.key) is ep:
            del self.connections[ep.key]
            self.counters.connections_closed += 1
        if ep.parent is not None:
            ep.parent.syn_queue.discard(ep.key)
        ep.timer.cancel()
        if ep.closed:
            self._release(ep)

    def _arm(self, ep: TcpEndpoint) -> None:
        conn = ep.conn
        ep.timer.arm(conn.get_timer() if conn is not None else None)

    def _on_timer(self, ep: TcpEndpoint) -> None:
        if ep.conn is not None:
            ep.conn.handle_timer(self.world.now())
            self._process(ep)

    def _emit(self, netif: NetIf, src: bytes, dst: bytes, hdr: TcpHeader, payload: bytes) -> None:
        try:
            out, next_hop, _src = self._route(dst, netif)
        except OSError:
            return
        self._send(out, next_hop, src, dst, hdr, payload)

    def error_input6(self, kind: int, inner: Ipv6Header, quoted: memoryview) -> None:
        """An ICMPv6 Destination Unreachable quoting one of our segments (RFC 4443 §3.1).
        A connection still in SYN-SENT gives up at once, "unreachable" (as Linux does,
        RFC 5461 §4.1); later it is a soft error and ignored (RFC 1122 §4.2.3.9). The
        quoted SYN must carry our ISS (RFC 5927 §4.1), or the error is forged."""
        if kind != Icmpv6Type.DEST_UNREACHABLE:
            return
        try:
            hdr, _data = TcpHeader.parse(quoted)
        except DecodeError:
            return
        ep = self.connections.get((inner.src, hdr.src_port, inner.dst, hdr.dst_port))
        if ep is None or ep.conn is None or ep.conn.state is not TcpState.SYN_SENT:
            return
        if hdr.seq != ep.iss & 0xFFFFFFFF or not hdr.flags & _SYN:
            return
        ep.error = "unreachable"
        ep.conn.abort(self.world.now())
        self._process(ep)

    def path_mtu_changed(self, dst: bytes) -> None:
        """A Packet Too Big lowered the path MTU to ``dst``: the connections to it adapt
        their segment size at their next output pass."""
        for ep in self.connections.values():
            if ep.remote_ip == dst:
                self._mark(ep)

    def _route(self, dst: bytes, netif_hint: NetIf | None) -> tuple[NetIf, bytes, bytes]:
        """Route to a peer; a link-local IPv6 peer is on the connection's own interface."""
        if len(dst) == 4:
            return self.stack.ipv4.route(dst)
        scope = netif_hint.index if netif_hint is not None and is_link_local(dst) else 0
        return self.stack.ipv6.route(dst, scope)

    def _send(
        self,
        netif: NetIf,
        next_hop: bytes,
        src: bytes,
        dst: bytes,
        hdr: TcpHeader,
        payload: bytes,
        gso_size: int = 0,
        csum_offload: bool = False,
    ) -> None:
        self.counters.tx_segments += 1
        net = self.stack.ipv4 if len(dst) == 4 else self.stack.ipv6
        if not (csum_offload and payload):
            segment = hdr.build(payload, src=src, dst=dst)
            net.send_routed(netif, next_hop, src, dst, IpProto.TCP, segment)
            return
        # the link (the kernel behind a TAP) finishes the checksum and cuts large segments
        segment = hdr.build(payload, src=src, dst=dst, fill_checksum=False)
        key = (netif.link.header_len, len(segment) - len(payload), gso_size, len(dst))
        offload = self._offloads.get(key)
        if offload is None:
            offload = self._offloads[key] = _offload(*key)
        net.send_routed(netif, next_hop, src, dst, IpProto.TCP, segment, offload=offload)


def _offload(link_header: int, tcp_header: int, gso_size: int, address_len: int) -> TxOffload:
    """Checksum (and with ``gso_size``, segmentation) offload for a TCP segment in IPv4
    without options or IPv6 without extension headers, behind ``link_header`` bytes."""
    if address_len == 4:
        start, gso = link_header + 20, GsoType.TCPV4
    else:
        start, gso = link_header + 40, GsoType.TCPV6
    return TxOffload(start, 16, gso if gso_size else GsoType.NONE, gso_size, start + tcp_header)


def _config_for(config: TcpConfig, netif: NetIf, ipv6: bool = False) -> TcpConfig:
    """A new connection's settings on ``netif``: the MSS it advertises fits the MTU (less
    40 bytes of IPv4 and TCP headers, 60 with IPv6)."""
    mtu = netif.ip6.mtu if ipv6 and netif.ip6 is not None else netif.mtu
    return dataclasses.replace(config, mss=min(config.mss, mtu - (60 if ipv6 else 40)))


def _use_offloads(conn: TcpConnection, netif: NetIf) -> None:
    """On a link that segments for us (TSO), hand it segments of up to 64 KiB."""
    caps = netif.link.capabilities
    if caps.tx_tso and caps.tx_checksum and caps.gso_max_size > _TSO_HEADROOM:
        conn.max_segment = min(caps.gso_max_size - _TSO_HEADROOM, _MAX_IPV4_PAYLOAD - 60)
