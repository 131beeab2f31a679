"""Building and reading PPP control packets in the automaton tests (LCP, IPCP, IPV6CP)."""

from __future__ import annotations

from dataclasses import dataclass

from netstack.stacks.ip.ppp.fsm import Automaton, LayerEvent
from netstack.wire.ppp import ControlCode, ControlPacket, build_options, parse_options

Options = list[tuple[int, bytes]]


@dataclass
class Packet:
    """A control packet a machine sent."""

    code: int
    identifier: int
    data: bytes

    @property
    def options(self) -> Options:
        return parse_options(self.data)


def packet(code: int, identifier: int, data: bytes = b"") -> bytes:
    return ControlPacket(code, identifier).build(data)


def request(identifier: int, options: Options) -> bytes:
    """A Configure-Request with ``options``."""
    return packet(ControlCode.CONFIGURE_REQUEST, identifier, build_options(options))


def reply(code: int, identifier: int, options: Options) -> bytes:
    """A Configure-Ack/Nak/Reject with ``options``."""
    return packet(code, identifier, build_options(options))


def sent(machine: Automaton) -> list[Packet]:
    """What ``machine`` has to send, drained."""
    out = []
    for raw in machine.packets_to_send():
        header, data = ControlPacket.parse(raw)
        out.append(Packet(header.code, header.identifier, bytes(data)))
    return out


def events(machine: Automaton) -> list[LayerEvent]:
    """The layer events ``machine`` reported, drained."""
    out = []
    while (event := machine.next_event()) is not None:
        out.append(event)
    return out
