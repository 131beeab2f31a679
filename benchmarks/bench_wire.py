"""Ethernet/IPv4/UDP decode and build: netstack's wire layer against Scapy and dpkt.

Three operations on the same frames (64- and 1472-byte UDP payloads):

- decode: Ethernet -> IPv4 -> UDP, reading the fields a stack uses. netstack also verifies
  the IPv4 header checksum and the UDP checksum; Scapy and dpkt verify neither.
- build: UDP (with checksum) -> IPv4 (with checksum) -> Ethernet, from fresh records.
- decode+build: decode a frame and build the reply with addresses and ports swapped,
  what an echo server does per datagram.

Run ``python benchmarks/bench_wire.py`` (add ``--quick`` for a smoke run); ``main()``
returns the rows as dicts. Rates are frames per second, best of ``REPEATS`` runs.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from typing import Any

from netstack.wire.ethernet import EthernetHeader, EtherType
from netstack.wire.ipv4 import IpProto, Ipv4Flags, Ipv4Header
from netstack.wire.udp import UdpHeader

PAYLOAD_SIZES = (64, 1472)
REPEATS = 3
# Iterations per run, scaled to each library's speed so the script takes well under 30 s.
ITERATIONS = {"netstack": 40_000, "dpkt": 10_000, "scapy": 1_000}

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
IP_A = bytes((10, 99, 0, 1))
IP_B = bytes((10, 99, 0, 2))
PORT_A = 40000
PORT_B = 7777

Op = Callable[[], object]


def make_frame(size: int) -> tuple[bytes, bytes]:
    """A realistic frame (DF set, TTL 64, real checksums) and its UDP payload."""
    payload = bytes(i & 0xFF for i in range(size))
    udp = UdpHeader(PORT_A, PORT_B).build(payload, src=IP_A, dst=IP_B)
    ip = Ipv4Header(IP_A, IP_B, IpProto.UDP, ident=0x1D0B, flags=Ipv4Flags.DF).build(udp)
    return EthernetHeader(MAC_B, MAC_A, EtherType.IPV4).build(ip), payload


# --- netstack -----------------------------------------------------------------------------


def netstack_ops(frame: bytes, payload: bytes) -> dict[str, Op]:
    eth_parse = EthernetHeader.parse
    ip_parse = Ipv4Header.parse

    udp_parse = UdpHeader.parse

    def decode() -> object:
        eth, rest = eth_parse(frame)
        ip, rest = ip_parse(rest)
        udp, data = udp_parse(rest, src=ip.src, dst=ip.dst)
        return eth.src, ip.src, udp.src_port, udp.dst_port, data

    def build() -> object:
        udp = UdpHeader(PORT_A, PORT_B).build(payload, src=IP_A, dst=IP_B)
        ip = Ipv4Header(IP_A, IP_B, 17, 64, 0, 0x1D0B, 2).build(udp)
        return EthernetHeader(MAC_B, MAC_A, 0x0800).build(ip)

    def echo() -> object:
        eth, rest = eth_parse(frame)
        ip, rest = ip_parse(rest)
        src = ip.src
        dst = ip.dst
        udp, data = udp_parse(rest, src=src, dst=dst)
        reply = UdpHeader(udp.dst_port, udp.src_port).build(data, src=dst, dst=src)
        packet = Ipv4Header(dst, src, 17, 64, 0, ip.ident, 2).build(reply)
        return EthernetHeader(eth.src, eth.dst, 0x0800).build(packet)

    return {"decode": decode, "build": build, "decode+build": echo}


# --- Scapy --------------------------------------------------------------------------------


def scapy_ops(frame: bytes, payload: bytes) -> dict[str, Op]:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    a_mac, b_mac = "02:00:00:00:00:01", "02:00:00:00:00:02"

    def decode() -> object:
        pkt = Ether(frame)
        ip = pkt[IP]
        udp = pkt[UDP]
        return pkt.src, ip.src, udp.sport, udp.dport, udp.payload.load

    def build() -> object:
        return bytes(
            Ether(dst=b_mac, src=a_mac)
            / IP(src="10.99.0.1", dst="10.99.0.2", id=0x1D0B, flags="DF")
            / UDP(sport=PORT_A, dport=PORT_B)
            / Raw(payload)
        )

    def echo() -> object:
        pkt = Ether(frame)
        ip = pkt[IP]
        udp = pkt[UDP]
        return bytes(
            Ether(dst=pkt.src, src=pkt.dst)
            / IP(src=ip.dst, dst=ip.src, id=ip.id, flags="DF")
            / UDP(sport=udp.dport, dport=udp.sport)
            / Raw(udp.payload.load)
        )

    return {"decode": decode, "build": build, "decode+build": echo}


# --- dpkt ---------------------------------------------------------------------------------


def dpkt_ops(frame: bytes, payload: bytes) -> dict[str, Op]:
    import dpkt  # type: ignore[import-untyped]

    ethernet = dpkt.ethernet.Ethernet
    ip_cls = dpkt.ip.IP
    udp_cls = dpkt.udp.UDP

    def decode() -> object:
        eth = ethernet(frame)
        ip = eth.data
        udp = ip.data
        return eth.src, ip.src, udp.sport, udp.dport, udp.data

    def build() -> object:
        udp = udp_cls(sport=PORT_A, dport=PORT_B, ulen=8 + len(payload), data=payload)
        ip = ip_cls(src=IP_A, dst=IP_B, p=17, id=0x1D0B, df=1, data=udp)
        return bytes(ethernet(dst=MAC_B, src=MAC_A, type=0x0800, data=ip))

    def echo() -> object:
        eth = ethernet(frame)
        ip = eth.data
        udp = ip.data
        data = udp.data
        reply = udp_cls(sport=udp.dport, dport=udp.sport, ulen=8 + len(data), data=data)
        packet = ip_cls(src=ip.dst, dst=ip.src, p=17, id=ip.id, df=1, data=reply)
        return bytes(ethernet(dst=eth.src, src=eth.dst, type=0x0800, data=packet))

    return {"decode": decode, "build": build, "decode+build": echo}


LIBRARIES: dict[str, Callable[[bytes, bytes], dict[str, Op]]] = {
    "netstack": netstack_ops,
    "scapy": scapy_ops,
    "dpkt": dpkt_ops,
}


def rate(op: Op, iterations: int) -> float:
    """Frames per second: the best of ``REPEATS`` timed runs, collector paused."""
    best = float("inf")
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(REPEATS):
            start = time.perf_counter()
            for _ in range(iterations):
                op()
            best = min(best, time.perf_counter() - start)
    finally:
        if gc_was_enabled:
            gc.enable()
    return iterations / best


def check_outputs(frame: bytes, ops: dict[str, dict[str, Op]]) -> None:
    """Every library must decode the same payload and build a frame of the right size."""
    for lib, lib_ops in ops.items():
        decoded = lib_ops["decode"]()
        assert isinstance(decoded, tuple), lib
        assert bytes(decoded[-1]) == frame[42:], f"{lib} decoded the wrong payload"
        for name in ("build", "decode+build"):
            built = lib_ops[name]()
            assert isinstance(built, bytes) and len(built) == len(frame), f"{lib} {name}"
    ours = ops["netstack"]["build"]()
    assert ours == frame, "netstack build differs from the reference frame"


def main(quick: bool = False) -> list[dict[str, Any]]:
    """Measure every library, operation and payload size; print and return the rows."""
    scale = 0.05 if quick else 1.0
    rows: list[dict[str, Any]] = []
    for size in PAYLOAD_SIZES:
        frame, payload = make_frame(size)
        ops = {lib: factory(frame, payload) for lib, factory in LIBRARIES.items()}
        check_outputs(frame, ops)
        for op_name in ("decode", "build", "decode+build"):
            rates = {
                lib: rate(ops[lib][op_name], max(1, int(ITERATIONS[lib] * scale)))
                for lib in LIBRARIES
            }
            for lib, value in rates.items():
                rows.append(
                    {
                        "payload": size,
                        "frame": len(frame),
                        "op": op_name,
                        "library": lib,
                        "frames_per_s": value,
                        "vs_scapy": value / rates["scapy"],
                        "vs_dpkt": value / rates["dpkt"],
                    }
                )
    print(format_table(rows))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Python {sys.version.split()[0]}; frames/s, best of {REPEATS}",
        "",
        "| UDP payload | operation | library | frames/s | x Scapy | x dpkt |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['payload']} B | {row['op']} | {row['library']} "
            f"| {row['frames_per_s']:,.0f} | {row['vs_scapy']:.1f} | {row['vs_dpkt']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    main(quick=parser.parse_args().quick)
