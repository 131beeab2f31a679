"""TCP segment decode and build: netstack's wire layer against Scapy and dpkt.

The segment is what a connection with timestamps sends: PSH|ACK, NOP, NOP, timestamps, then
64 or 1448 bytes of data (1448 fills an Ethernet MSS of 1460 with timestamps on). Operations:

- parse+verify: TCP segment -> the fields a connection machine reads (ports, seq, ack,
  flags, window, TSval/TSecr, payload). netstack also verifies the checksum over the IPv4
  pseudo-header; Scapy and dpkt verify nothing.
- parse (no verify): netstack's parse+verify without the addresses, so without the
  checksum: what Scapy and dpkt do above.
- build: IPv4 + TCP with both checksums, from fresh records. Scapy and dpkt fill the TCP
  checksum only when the segment sits in an IP packet, so every library builds the packet;
  all three produce the same bytes.
- build (TCP only): netstack's segment build alone, for the record (no reference).

Run ``python benchmarks/bench_tcp_wire.py`` (add ``--quick`` for a smoke run); ``main()``
returns the rows as dicts. Rates are operations per second, best of ``REPEATS`` runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from bench_wire import REPEATS, Op, rate
from netstack.wire.ipv4 import IpProto, Ipv4Flags, Ipv4Header
from netstack.wire.tcp import TcpFlags, TcpHeader, TcpOptions

PAYLOAD_SIZES = (64, 1448)
# Iterations per run, scaled to each library's speed so the script takes well under 30 s.
ITERATIONS = {"netstack": 40_000, "dpkt": 10_000, "scapy": 1_000}

IP_A = bytes((10, 99, 0, 1))
IP_B = bytes((10, 99, 0, 2))
PORT_A = 40000
PORT_B = 7777
SEQ = 0x9A64EBE3
ACK = 0xF53B5DA9
WINDOW = 502
TSVAL = 0x004D0C4A
TSECR = 0x46B10EF6
IDENT = 0x1D0B

OPS = ("parse+verify", "parse (no verify)", "build", "build (TCP only)")


def make_packet(size: int) -> tuple[bytes, bytes, bytes]:
    """The reference IPv4 packet (DF, TTL 64, real checksums), its TCP segment and payload."""
    payload = bytes(i & 0xFF for i in range(size))
    segment = TcpHeader(
        PORT_A,
        PORT_B,
        SEQ,
        ACK,
        TcpFlags.PSH | TcpFlags.ACK,
        WINDOW,
        options=TcpOptions(timestamp=(TSVAL, TSECR)),
    ).build(payload, src=IP_A, dst=IP_B)
    packet = Ipv4Header(IP_A, IP_B, IpProto.TCP, ident=IDENT, flags=Ipv4Flags.DF).build(segment)
    return packet, segment, payload


# --- netstack -----------------------------------------------------------------------------


def netstack_ops(segment: bytes, payload: bytes) -> dict[str, Op]:
    parse = TcpHeader.parse

    def decode() -> object:
        tcp, data = parse(segment, src=IP_A, dst=IP_B)
        options = tcp.options
        timestamp = None if options is None else options.timestamp
        return tcp.src_port, tcp.dst_port, tcp.seq, tcp.ack, tcp.flags, tcp.window, timestamp, data

    def decode_unverified() -> object:
        tcp, data = parse(segment)
        options = tcp.options
        timestamp = None if options is None else options.timestamp
        return tcp.src_port, tcp.dst_port, tcp.seq, tcp.ack, tcp.flags, tcp.window, timestamp, data

    def build_segment() -> bytes:
        return TcpHeader(
            PORT_A, PORT_B, SEQ, ACK, 0x18, WINDOW, 0, TcpOptions(timestamp=(TSVAL, TSECR))
        ).build(payload, src=IP_A, dst=IP_B)

    def build() -> object:
        return Ipv4Header(IP_A, IP_B, 6, 64, 0, IDENT, 2).build(build_segment())

    return {
        "parse+verify": decode,
        "parse (no verify)": decode_unverified,
        "build": build,
        "build (TCP only)": build_segment,
    }


# --- Scapy --------------------------------------------------------------------------------


def scapy_ops(segment: bytes, payload: bytes) -> dict[str, Op]:
    from scapy.layers.inet import IP, TCP
    from scapy.packet import Raw

    def decode() -> object:
        tcp = TCP(segment)
        timestamp = dict(tcp.options).get("Timestamp")
        return (
            tcp.sport,
            tcp.dport,
            tcp.seq,
            tcp.ack,
            int(tcp.flags),
            tcp.window,
            timestamp,
            tcp.payload.load,
        )

    def build() -> object:
        return bytes(
            IP(src="10.99.0.1", dst="10.99.0.2", id=IDENT, flags="DF")
            / TCP(
                sport=PORT_A,
                dport=PORT_B,
                seq=SEQ,
                ack=ACK,
                flags="PA",
                window=WINDOW,
                options=[("NOP", None), ("NOP", None), ("Timestamp", (TSVAL, TSECR))],
            )
            / Raw(payload)
        )

    return {"parse+verify": decode, "build": build}


# --- dpkt ---------------------------------------------------------------------------------


def dpkt_ops(segment: bytes, payload: bytes) -> dict[str, Op]:
    import dpkt  # type: ignore[import-untyped]

    tcp_cls = dpkt.tcp.TCP
    ip_cls = dpkt.ip.IP
    parse_opts = dpkt.tcp.parse_opts
    options = bytes.fromhex("0101080a") + TSVAL.to_bytes(4) + TSECR.to_bytes(4)

    def decode() -> object:
        tcp = tcp_cls(segment)
        timestamp = None
        for kind, value in parse_opts(tcp.opts):
            if kind == dpkt.tcp.TCP_OPT_TIMESTAMP:
                timestamp = (int.from_bytes(value[:4]), int.from_bytes(value[4:]))
        return tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.flags, tcp.win, timestamp, tcp.data

    def build() -> object:
        tcp = tcp_cls(
            sport=PORT_A,
            dport=PORT_B,
            seq=SEQ,
            ack=ACK,
            off=8,
            flags=0x18,
            win=WINDOW,
            opts=options,
            data=payload,
        )
        return bytes(ip_cls(src=IP_A, dst=IP_B, p=6, id=IDENT, df=1, data=tcp))

    return {"parse+verify": decode, "build": build}


LIBRARIES: dict[str, Callable[[bytes, bytes], dict[str, Op]]] = {
    "netstack": netstack_ops,
    "scapy": scapy_ops,
    "dpkt": dpkt_ops,
}


def check_outputs(packet: bytes, segment: bytes, ops: dict[str, dict[str, Op]]) -> None:
    """Every library must decode the same fields and build the same packet."""
    expected = (PORT_A, PORT_B, SEQ, ACK, 0x18, WINDOW, (TSVAL, TSECR), segment[32:])
    for lib, lib_ops in ops.items():
        decoded = lib_ops["parse+verify"]()
        assert isinstance(decoded, tuple), lib
        assert decoded[:-1] == expected[:-1], f"{lib} decoded {decoded[:-1]}"
        assert bytes(decoded[-1]) == expected[-1], f"{lib} decoded the wrong payload"
        assert lib_ops["build"]() == packet, f"{lib} built a different packet"
    assert ops["netstack"]["parse (no verify)"]() == ops["netstack"]["parse+verify"]()
    assert ops["netstack"]["build (TCP only)"]() == segment


def main(quick: bool = False) -> list[dict[str, Any]]:
    """Measure every library, operation and payload size; print and return the rows."""
    scale = 0.05 if quick else 1.0
    rows: list[dict[str, Any]] = []
    for size in PAYLOAD_SIZES:
        packet, segment, payload = make_packet(size)
        ops = {lib: factory(segment, payload) for lib, factory in LIBRARIES.items()}
        check_outputs(packet, segment, ops)
        for op_name in OPS:
            rates = {
                lib: rate(lib_ops[op_name], max(1, int(ITERATIONS[lib] * scale)))
                for lib, lib_ops in ops.items()
                if op_name in lib_ops
            }
            for lib, value in rates.items():
                rows.append(
                    {
                        "payload": size,
                        "segment": len(segment),
                        "op": op_name,
                        "library": lib,
                        "ops_per_s": value,
                        "vs_scapy": value / rates["scapy"] if "scapy" in rates else None,
                        "vs_dpkt": value / rates["dpkt"] if "dpkt" in rates else None,
                    }
                )
    print(format_table(rows))
    return rows


def _ratio(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Python {sys.version.split()[0]}; TCP segments/s, best of {REPEATS}",
        "",
        "| TCP payload | operation | library | per s | x Scapy | x dpkt |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['payload']} B | {row['op']} | {row['library']} "
            f"| {row['ops_per_s']:,.0f} | {_ratio(row['vs_scapy'], 1)} "
            f"| {_ratio(row['vs_dpkt'], 2)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    main(quick=parser.parse_args().quick)
