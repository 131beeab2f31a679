"""PppLink: the link adapter that runs a :class:`PppConnection` over a serial port.

The glue of the design's one idiom: bytes from the port go into the connection, the IP
packets it returns go up to the stack, its control output goes to the port, its one
deadline arms one loop timer, and its events go to the listeners (the interface applies
addresses and status). There is no address resolution on a point-to-point link: every
packet goes to the peer, whatever the next hop.

IP packets are dropped (and counted) rather than queued without bound when the port
already holds ``tx_queue_limit`` bytes the line has not taken yet — on a slow line that
keeps the queueing delay, which TCP sees as RTT, to a fraction of a second. Control
packets are always queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from netstack.drivers.emac.api import Capabilities, RxFlags, TxOffload
from netstack.drivers.serial.api import SerialPort
from netstack.runtime.timer import DeadlineTimer
from netstack.runtime.world import World
from netstack.stacks.core.link import NetIf, ProbeCallback
from netstack.stacks.ip.ppp.connection import Phase, PppConfig, PppConnection, PppEvent
from netstack.wire.ppp import PppProtocol

log = logging.getLogger(__name__)

PppListener = Callable[[PppEvent], None]

#: Bytes waiting in the port beyond which IP packets are dropped (about 0.7 s at 115200).
DEFAULT_TX_QUEUE_LIMIT = 8192


class PppLink:
    """Adapts a :class:`~netstack.drivers.serial.api.SerialPort` to a stack's NetIf."""

    def __init__(
        self,
        port: SerialPort,
        world: World,
        config: PppConfig | None = None,
        *,
        tx_queue_limit: int = DEFAULT_TX_QUEUE_LIMIT,
    ) -> None:
        self.port = port
        self.world = world
        self.connection = PppConnection(config or PppConfig(), world.rng)
        self.tx_queue_limit = tx_queue_limit
        self.listeners: list[PppListener] = []
        self._netif: NetIf | None = None
        self._timer = DeadlineTimer(world, self._on_timer)
        self._started = False
        self.counters = {"tx_queue_drops": 0, "tx_refused": 0}
        self._capabilities = Capabilities(medium="ppp", mtu=self.connection.mtu)

    # -- LinkAdapter contract -----------------------------------------------------------------
    @property
    def mtu(self) -> int:
        return self.connection.mtu

    @property
    def hwaddr(self) -> bytes:
        return b""

    @property
    def capabilities(self) -> Capabilities:
        mtu = self.connection.mtu
        if self._capabilities.mtu != mtu:  # LCP agreed on another MRU
            self._capabilities = Capabilities(medium="ppp", mtu=mtu)
        return self._capabilities

    @property
    def header_len(self) -> int:
        return 0

    @property
    def is_up(self) -> bool:
        return self.connection.is_up

    def start(self, netif: NetIf) -> None:
        """Start LCP on the port (the stack brings the interface up)."""
        self._netif = netif
        self.port.set_receive_cb(self._input)
        self.port.set_hangup_cb(self._hangup)
        self._started = True
        self.connection.open(self.world.now())
        self._flush()

    def stop(self) -> None:
        """Detach from the port; a link still up is dropped without goodbyes (use
        :meth:`close` first for a graceful end)."""
        if self._started and self.connection.phase is not Phase.DEAD:
            self.connection.lower_down(self.world.now(), "the interface was stopped")
            self._flush()
        self._started = False
        self.port.set_receive_cb(None)
        self.port.set_hangup_cb(None)
        self._timer.cancel()

    def close(self, reason: str = "closed by the application") -> None:
        """Terminate the link gracefully (LCP Terminate-Request and its Ack)."""
        self.connection.close(self.world.now(), reason)
        self._flush()

    def output_ipv4(self, packet: bytes, next_hop: bytes, offload: TxOffload | None = None) -> bool:
        return self._output(PppProtocol.IPV4, packet)

    def output_ipv6(self, packet: bytes, next_hop: bytes, offload: TxOffload | None = None) -> bool:
        return self._output(PppProtocol.IPV6, packet)

    def join_ipv6_group(self, group: bytes) -> None:
        return None  # a point-to-point link delivers everything the peer sends

    def leave_ipv6_group(self, group: bytes) -> None:
        return None

    def addresses_changed(self) -> None:
        return None

    def probe_address(self, address: bytes, callback: ProbeCallback) -> None:
        callback(True, None)  # IPCP already agreed on the addresses

    def stats(self) -> dict[str, int]:
        conn = self.connection
        out = dict(conn.stats)
        deframer = conn.deframer
        out.update(
            rx_good_frames=deframer.frames,
            rx_bad_fcs=deframer.bad_fcs,
            rx_aborted=deframer.aborted,
            rx_too_long=deframer.too_long,
            rx_runts=deframer.runts,
        )
        out.update({f"lcp_{k}": v for k, v in conn.lcp.stats.items()})
        out.update(self.counters)
        return out

    # -- glue -----------------------------------------------------------------------------------
    def _output(self, protocol: int, packet: bytes) -> bool:
        port = self.port
        if port.write_pending > self.tx_queue_limit:
            self.counters["tx_queue_drops"] += 1
            return False
        frame = self.connection.frame_packet(protocol, packet)
        if frame is None:
            return False
        if not port.write(frame):
            self.counters["tx_refused"] += 1
            return False
        return True

    def _input(self, data: bytes) -> None:
        conn = self.connection
        packets = conn.receive_data(data, self.world.now())
        netif = self._netif
        if packets and netif is not None:
            for protocol, packet in packets:
                if protocol == PppProtocol.IPV4:
                    netif.input_ipv4(netif, packet, RxFlags.NONE)
                else:
                    netif.input_ipv6(netif, packet, RxFlags.NONE)
        self._flush()

    def _hangup(self) -> None:
        log.debug("PPP: the serial port hung up")
        self.connection.lower_down(self.world.now(), "the serial line hung up")
        self._flush()

    def _on_timer(self) -> None:
        self.connection.handle_timer(self.world.now())
        self._flush()

    def _flush(self) -> None:
        conn = self.connection
        data = conn.data_to_send()
        if data and self.port.is_open and not self.port.write(data):
            self.counters["tx_refused"] += 1
        self._timer.arm(conn.get_timer())
        while (event := conn.next_event()) is not None:
            for listener in list(self.listeners):
                listener(event)
