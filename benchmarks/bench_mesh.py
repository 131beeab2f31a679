"""The mesh stack: IPHC round trips, MAC frames through the medium, a 100-node mesh, mesh-under.

One table; every figure has a reference measured in the same run beside it.

1. **IPHC** (in-process): compress + decompress round trips per second of three IPv6/UDP
   packets with an ``IPHC_PAYLOAD``-octet payload between two EUI-64s: link-local unicast
   (addresses derived from the MACs), global unicast under context 0 (2001:db8::/64, the
   IIDs again from the MACs) and link-local to ff02::1 (to the broadcast short address).
   netstack: ``compress_ipv6`` + ``decompress_ipv6`` on bytes; then the same inside an
   802.15.4 data frame (``Ieee802154Frame.build``/``parse``, no FCS) as Scapy does it.
   Reference: Scapy 2.8 (``scapy.layers.sixlowpan`` over ``scapy.layers.dot15d4``), told
   the IPHC fields netstack picks: ``bytes()`` of a prebuilt Dot15d4/Dot15d4Data/
   LoWPAN_IPHC/LoWPAN_NHC/IPv6/UDP/Raw packet, then ``bytes(Dot15d4(frame)[IPv6])``.
   Scapy has no contexts: for the global packet it carries both addresses in-line.
   Best of ``REPEATS`` timed runs of ``RUN_SECONDS``.
2. **MAC frames through the medium** (virtual time, wall clock): ``N`` (10, 100, 1000)
   ``Ieee802154Mac`` s on the radios ``bench_radio.build`` places (log-distance model, one
   radio per 625 m², the same positions as its run), short addresses 1..N. Every MAC asks
   for an acknowledged unicast data frame of ``PAYLOAD`` octets to a random neighbour
   (a radio that hears it) every ``PERIOD`` s ±10 % (``data_request``), until
   ``MAC_REQUESTS`` requests have completed. Reported: data frames delivered to a MAC's
   indication per wall second. Reference: ``bench_radio.frames_run`` on the same N, the
   same positions and as many frames: the PHY alone (radio ``tx`` broadcasts with one CCA,
   no MAC), transmissions per wall second. Runs interleaved, best of ``MAC_REPEATS``.
3. **Full stack, 100 nodes** (virtual time, wall clock): ``MeshInterface`` s on a 10 x 10
   grid, ``GRID`` m apart with ±5 m jitter, ``UnitDisk(RANGE)``; all connect (link-local
   address, DAD), then each sends a ``UDP_PAYLOAD``-octet UDP datagram to one neighbour's
   link-local address every ``INTERVAL`` s ±10 % for ``SIM_SECONDS`` of virtual time
   (``sendto_nowait``; receivers drain from a ``sigio`` callback). Reported: simulated
   seconds per wall second over the traffic phase, datagrams delivered. Reference: the same
   100 nodes as Ethernet hosts (``netstack.sim.Network``, IPv6 link-local only, one
   ``VirtualSegment``) with the same senders, destinations and timings. Best of
   ``FULL_REPEATS``.

4. **Mesh-under over a line** (virtual time): ``hops + 1`` ``MeshInterface`` s in a row
   ``LINE_SPACING`` m apart (``UnitDisk(RANGE)``: each hears only its neighbours) with
   ``LowpanConfig(mesh_under=True)`` and static routes along the row; the first radio
   sends ``ECHOES`` UDP datagrams of ``ECHO_PAYLOAD`` octets (a full 1280-byte IPv6
   packet, ~13 fragments) one at a time to a UDP echo server on the last, 5 s timeout
   each, on ``LINE_SEEDS`` seeded lines per hop count. Reported: echoes answered of those
   sent and their mean round-trip time in simulated milliseconds, with the fragments of
   multi-hop datagrams paced (the default ``fragment_gap``). Reference: the same lines
   and seeds with ``fragment_gap=0`` (fragments back to back).

Run ``python benchmarks/bench_mesh.py`` (``--quick`` for a smoke run); ``main()`` returns
the rows as dicts. No root, no network: everything happens inside this process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from bench_ppp import best_rate
from bench_radio import PAN as RADIO_PAN
from bench_radio import build as radio_medium
from bench_radio import frames_run
from netstack.address import SocketAddress
from netstack.drivers.rfphy import UnitDisk, VirtualRadioMedium
from netstack.errors import NetworkTimeoutError, WouldBlockError
from netstack.interfaces.base import NetifInterface
from netstack.interfaces.mesh import MeshInterface
from netstack.runtime.world import World
from netstack.services.echo import UdpEchoServer
from netstack.sim import Network
from netstack.socket import UDPSocket
from netstack.stacks.mesh.lowpan import LowpanConfig
from netstack.stacks.mesh.mac import Ieee802154Mac, MacConfig, MacStatus
from netstack.wire.ieee802154 import BROADCAST, FrameType, Ieee802154Frame
from netstack.wire.ipv6 import Ipv6Header, ip6_from_str
from netstack.wire.sixlowpan import (
    LowpanContext,
    compress_ipv6,
    decompress_ipv6,
    iid_from_mac,
    link_local_from_mac,
)
from netstack.wire.udp import UdpHeader

# --- 1. IPHC -------------------------------------------------------------------------------
PAN = 0xABCD
SRC_MAC = bytes.fromhex("00124b0001020304")  # EUI-64s (TI's OUI)
DST_MAC = bytes.fromhex("00124b0005060708")
SPORT, DPORT = 50001, 5683  # an ephemeral port to CoAP: both in-line (NHC P=00)
HOP_LIMIT = 64
IPHC_PAYLOAD = 50
CONTEXT = LowpanContext.from_string("2001:db8::/64")
RUN_SECONDS = 0.5
REPEATS = 3
BATCH = 100  # netstack round trips per timed call (Scapy: 1)

# --- 2. MAC ----------------------------------------------------------------------------------
PERIOD = 0.5  # as bench_radio's
PAYLOAD = 40
MAC_REQUESTS = 20_000
MAC_SIZES = (10, 100, 1000)
MAC_REPEATS = 3

# --- 3. full stack ---------------------------------------------------------------------------
NODES = 100
GRID = 25.0
RANGE = 50.0
UDP_PAYLOAD = 60
INTERVAL = 1.0
SIM_SECONDS = 60.0
PORT = 9000
FULL_REPEATS = 3

# --- 4. mesh-under ---------------------------------------------------------------------------
LINE_HOPS = (1, 2, 4, 7)
LINE_SPACING = 40.0
LINE_SEEDS = 20
ECHOES = 3
ECHO_PAYLOAD = 1280 - 48

Op = Callable[[], int]


# --- 1. IPHC ---------------------------------------------------------------------------------


def udp6(src: bytes, dst: bytes, payload: bytes) -> bytes:
    """An IPv6/UDP packet with a correct checksum."""
    udp = UdpHeader(SPORT, DPORT).build(payload, src=src, dst=dst)
    return Ipv6Header(src, dst, 17, HOP_LIMIT, 0, 0).build(udp)


def link_bytes(address: int | bytes | None) -> bytes:
    """A parsed frame's address as IPHC wants it: 8 octets extended, 2 short."""
    assert address is not None
    return address if isinstance(address, bytes) else address.to_bytes(2, "big")


def iphc_cases() -> list[dict[str, Any]]:
    """The three packets: name, bytes, MAC addresses, contexts, Scapy's IPHC fields."""
    payload = bytes(range(IPHC_PAYLOAD))
    ll_src, ll_dst = link_local_from_mac(SRC_MAC), link_local_from_mac(DST_MAC)
    prefix = CONTEXT.prefix[:8]
    g_src, g_dst = prefix + iid_from_mac(SRC_MAC), prefix + iid_from_mac(DST_MAC)
    base = {"tf": 3, "nh": 1, "hlim": 2}
    return [
        {
            "case": "link-local unicast",
            "packet": udp6(ll_src, ll_dst, payload),
            "dst": DST_MAC,
            "contexts": None,
            "scapy_fields": {**base, "sam": 3, "dam": 3},
        },
        {
            "case": "global unicast, context 0",
            "packet": udp6(g_src, g_dst, payload),
            "dst": DST_MAC,
            "contexts": {0: CONTEXT},
            "scapy_fields": {**base, "sam": 0, "dam": 0},  # no contexts: in-line
        },
        {
            "case": "link-local to ff02::1",
            "packet": udp6(ll_src, ip6_from_str("ff02::1"), payload),
            "dst": BROADCAST,
            "contexts": None,
            "scapy_fields": {**base, "sam": 3, "m": 1, "dam": 3},
        },
    ]


def ours_bare(case: dict[str, Any]) -> Op:
    packet, contexts = case["packet"], case["contexts"]
    dst = link_bytes(case["dst"])

    def run() -> int:
        for _ in range(BATCH):
            encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=dst, contexts=contexts)
            decompress_ipv6(encoded, src_mac=SRC_MAC, dst_mac=dst, contexts=contexts)
        return BATCH

    return run


def ours_framed(case: dict[str, Any]) -> tuple[Op, bytes]:
    """The round trip inside an 802.15.4 data frame (no FCS: Scapy's Dot15d4 has none);
    also the frame, to compare with Scapy's."""
    packet, contexts, dst = case["packet"], case["contexts"], case["dst"]
    dst_mac = link_bytes(dst)

    def frame() -> bytes:
        encoded = compress_ipv6(packet, src_mac=SRC_MAC, dst_mac=dst_mac, contexts=contexts)
        return Ieee802154Frame(
            FrameType.DATA, seq=1, dst_pan=PAN, dst_addr=dst, src_addr=SRC_MAC, payload=encoded
        ).build(fcs=False)

    def receive(data: bytes) -> bytes:
        parsed = Ieee802154Frame.parse(data, fcs=False)
        return decompress_ipv6(
            parsed.payload,
            src_mac=link_bytes(parsed.src_addr),
            dst_mac=link_bytes(parsed.dst_addr),
            contexts=contexts,
        )

    assert receive(frame()) == packet

    def run() -> int:
        for _ in range(BATCH):
            receive(frame())
        return BATCH

    return run, frame()


def scapy_round_trip(case: dict[str, Any]) -> tuple[Op, bytes]:
    """Scapy's round trip, and its frame (checked to decode to the packet)."""
    from scapy.layers.dot15d4 import Dot15d4, Dot15d4Data
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.sixlowpan import LoWPAN_IPHC, LoWPAN_NHC
    from scapy.packet import Raw

    packet, dst = case["packet"], case["dst"]
    ip = IPv6(packet)
    short = isinstance(dst, int)
    layers = (
        Dot15d4(fcf_frametype=1, fcf_framever=1, fcf_panidcompress=1, seqnum=1,
                fcf_destaddrmode=2 if short else 3, fcf_srcaddrmode=3)
        / Dot15d4Data(dest_panid=PAN, dest_addr=dst if short else int.from_bytes(dst, "big"),
                      src_addr=int.from_bytes(SRC_MAC, "big"))
        / LoWPAN_IPHC(**case["scapy_fields"])
        / LoWPAN_NHC()
        / IPv6(src=ip.src, dst=ip.dst, hlim=ip.hlim)
        / UDP(sport=SPORT, dport=DPORT)
        / Raw(packet[48:])
    )  # fmt: skip
    frame = bytes(layers)
    if bytes(Dot15d4(frame)[IPv6]) != packet:
        raise RuntimeError(f"Scapy's round trip of the {case['case']} packet is wrong")

    def run() -> int:
        bytes(Dot15d4(bytes(layers))[IPv6])
        return 1

    return run, frame


def scapy_conf() -> Any:
    """Scapy's configuration, None without Scapy."""
    try:
        from scapy.config import conf
    except ImportError:
        return None
    return conf


def iphc_rows(seconds: float, repeats: int) -> list[dict[str, Any]]:
    conf = scapy_conf()
    rows: list[dict[str, Any]] = []
    saved = conf.dot15d4_protocol if conf is not None else None
    if conf is not None:
        conf.dot15d4_protocol = "sixlowpan"
    try:
        for case in iphc_cases():
            packet, contexts = case["packet"], case["contexts"]
            encoded = compress_ipv6(
                packet, src_mac=SRC_MAC, dst_mac=link_bytes(case["dst"]), contexts=contexts
            )
            framed, our_frame = ours_framed(case)
            row = {
                "section": "iphc",
                "case": case["case"],
                "ipv6_bytes": len(packet),
                "lowpan_bytes": len(encoded),
                "bare": best_rate(ours_bare(case), seconds, repeats),
                "framed": best_rate(framed, seconds, repeats),
            }
            if conf is None:
                row["scapy"] = None
            else:
                scapy_op, scapy_frame = scapy_round_trip(case)
                row["scapy"] = best_rate(scapy_op, seconds, repeats)
                row["scapy_frame_bytes"] = len(scapy_frame)
                row["same_frame"] = scapy_frame == our_frame
            row["frame_bytes"] = len(our_frame)
            rows.append(row)
    finally:
        if conf is not None:
            conf.dot15d4_protocol = saved
    return rows


# --- 2. MAC frames through the medium --------------------------------------------------------


def mac_run(nodes: int, total: int, seed: int = 1) -> dict[str, Any]:
    """``total`` acked unicast requests from ``nodes`` MACs on bench_radio's radios."""
    world, medium, radios = radio_medium(nodes, seed)
    loop = world.loop
    macs = [
        Ieee802154Mac(radio, world, MacConfig(pan_id=RADIO_PAN, short_address=i + 1))
        for i, radio in enumerate(radios)
    ]
    index = {id(radio): i for i, radio in enumerate(radios)}
    neighbours = [[index[id(o)] + 1 for o in medium.neighbours(radio)] for radio in radios]
    threshold = medium.cca_threshold_dbm
    links = [
        medium.link(radio, radios[j - 1])
        for radio, near in zip(radios, neighbours, strict=True)
        for j in near
    ]
    sensed = sum(1 for link in links if link is not None and link.rssi_dbm >= threshold)
    counts = {"requested": 0, "done": 0, "delivered": 0, "refused": 0}
    statuses: dict[MacStatus, int] = {}

    def indication(_: object) -> None:
        counts["delivered"] += 1

    def done(status: MacStatus) -> None:
        counts["done"] += 1
        statuses[status] = statuses.get(status, 0) + 1

    for mac in macs:
        mac.set_data_indication_cb(indication)
        mac.start()
    rng = random.Random(seed + 1)
    payload = bytes(PAYLOAD)

    def sender(i: int) -> None:
        mac = macs[i]
        targets = neighbours[i]
        request = mac.data_request

        def fire() -> None:
            if counts["requested"] >= total:
                return
            counts["requested"] += 1
            if not request(rng.choice(targets), payload, done=done):
                counts["refused"] += 1
                counts["done"] += 1
            loop.call_later(PERIOD * rng.uniform(0.9, 1.1), fire)

        if targets:
            loop.call_later(PERIOD * rng.random(), fire)

    for i in range(nodes):
        sender(i)
    gc.collect()
    start = time.perf_counter()
    while counts["done"] < total:
        world.run_for(PERIOD / 10)
    wall = time.perf_counter() - start
    stats = [mac.stats() for mac in macs]
    world.close()

    def total_of(name: str) -> int:
        return sum(s[name] for s in stats)

    return {
        "nodes": nodes,
        "neighbours": sum(map(len, neighbours)) / nodes,
        "sensed": sensed / max(1, len(links)),
        "cca_threshold": threshold,
        "requests": counts["requested"],
        "delivered": counts["delivered"],
        "refused": counts["refused"],
        "success": statuses.get(MacStatus.SUCCESS, 0),
        "no_ack": statuses.get(MacStatus.NO_ACK, 0),
        "channel_access_failure": statuses.get(MacStatus.CHANNEL_ACCESS_FAILURE, 0),
        "retries": total_of("tx_retries"),
        "duplicates": total_of("rx_duplicates"),
        "air_frames": medium.stats["frames"],
        "acks": medium.stats["acks"],
        "collisions": medium.stats["collisions"],
        "virtual_s": loop.time(),
        "wall_s": wall,
        "rate": counts["delivered"] / wall,
        "air_rate": medium.stats["frames"] / wall,
    }


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(min(runs, key=lambda r: r["wall_s"]))
    out["runs"] = len(runs)
    return out


def mac_rows(total: int, repeats: int) -> list[dict[str, Any]]:
    rows = []
    for nodes in MAC_SIZES:
        macs, phys = [], []
        for _ in range(repeats):  # interleaved
            gc.collect()
            phys.append(frames_run(nodes, total))
            macs.append(mac_run(nodes, total))
        phy = fastest(phys)
        rows.append({"section": "mac", **fastest(macs), "phy": phy})
    return rows


# --- 3. full stack ---------------------------------------------------------------------------


def start_udp_traffic(
    world: World,
    ifaces: list[NetifInterface],
    destinations: list[int],
    seconds: float,
    counts: dict[str, int],
) -> list[UDPSocket]:
    """Every interface sends to its destination's link-local address every INTERVAL s
    (jittered) until ``seconds`` from now; every interface counts what it receives."""
    loop = world.loop
    rng = random.Random(world.seed + 7)
    payload = bytes(UDP_PAYLOAD)
    end = loop.time() + seconds
    addresses = []
    for iface in ifaces:
        address = iface.get_ipv6_link_local_address()
        if address is None:
            raise RuntimeError(f"{iface} has no link-local address")
        addresses.append(address.packed)
    sockets = []
    for iface in ifaces:
        sock = UDPSocket(iface)
        sock.bind(PORT)
        sock.set_blocking(False)

        def readable(recv: Callable[[], object] = sock.recvfrom_nowait) -> None:
            while True:
                try:
                    recv()
                except WouldBlockError:
                    return
                counts["received"] += 1

        sock.sigio(readable)
        sockets.append(sock)
    for i, (iface, sock) in enumerate(zip(ifaces, sockets, strict=True)):
        dst = SocketAddress(addresses[destinations[i]], PORT, scope_id=iface.netif.index)

        def fire(send: Callable[[SocketAddress, bytes], int] = sock.sendto_nowait,
                 dst: SocketAddress = dst) -> None:  # fmt: skip
            if loop.time() >= end:
                return
            try:
                send(dst, payload)
                counts["sent"] += 1
            except WouldBlockError:
                counts["send_refused"] += 1
            loop.call_later(INTERVAL * rng.uniform(0.9, 1.1), fire)

        loop.call_later(INTERVAL * rng.random(), fire)
    return sockets


async def timed_traffic(
    world: World,
    ifaces: list[NetifInterface],
    destinations: list[int],
    seconds: float,
    counts: dict[str, int],
) -> tuple[float, float]:
    """Connect every interface at once, then run the traffic; (connect, traffic) wall s."""
    start = time.perf_counter()
    virtual0 = world.now()
    await asyncio.gather(*(iface.connect() for iface in ifaces))
    counts["connect_virtual_ms"] = round((world.now() - virtual0) * 1000)
    connect = time.perf_counter() - start
    sockets = start_udp_traffic(world, ifaces, destinations, seconds, counts)
    gc.collect()
    start = time.perf_counter()
    await asyncio.sleep(seconds + INTERVAL)  # the last datagrams arrive
    wall = time.perf_counter() - start
    for sock in sockets:
        sock.close()
    return connect, wall


def grid(seed: int) -> list[tuple[float, float]]:
    side = math.isqrt(NODES)
    rng = random.Random(seed)
    return [
        ((i % side) * GRID + rng.uniform(-5, 5), (i // side) * GRID + rng.uniform(-5, 5))
        for i in range(NODES)
    ]


def mesh_destinations(seed: int) -> list[int]:
    """For each node, one radio neighbour (the same list for the Ethernet reference)."""
    world = World.simulated(seed)
    medium = VirtualRadioMedium(world, UnitDisk(RANGE))
    radios = [medium.add_radio(p) for p in grid(seed)]
    index = {id(radio): i for i, radio in enumerate(radios)}
    rng = random.Random(seed + 1)
    out = []
    for radio in radios:
        near = sorted(index[id(o)] for o in medium.neighbours(radio))
        if not near:
            raise RuntimeError("a node without neighbours: change GRID or RANGE")
        out.append(rng.choice(near))
    world.close()
    return out


def mesh_run(seconds: float, destinations: list[int], seed: int) -> dict[str, Any]:
    world = World.simulated(seed)
    medium = VirtualRadioMedium(world, UnitDisk(RANGE))
    radios = [medium.add_radio(p) for p in grid(seed)]
    nodes = [MeshInterface(radio, world=world) for radio in radios]
    neighbours = sum(len(medium.neighbours(radio)) for radio in radios) / NODES
    counts = dict.fromkeys(("sent", "received", "send_refused"), 0)
    connect, wall = world.run(timed_traffic(world, list(nodes), destinations, seconds, counts))
    link: dict[str, int] = {}
    for node in nodes:
        for name, value in node.link.stats().items():
            link[name] = link.get(name, 0) + value
    air = dict(medium.stats)
    medium.close()
    world.close()
    return {
        **counts,
        "neighbours": neighbours,
        "connect_wall_s": connect,
        "wall_s": wall,
        "virtual_s": seconds + INTERVAL,
        "speed": (seconds + INTERVAL) / wall,
        "air_frames": air["frames"],
        "collisions": air["collisions"],
        "mac_retries": link.get("mac_tx_retries", 0),
        "mac_no_ack": link.get("mac_tx_no_ack", 0),
        "mac_caf": link.get("mac_tx_channel_access_failure", 0),
        "tx_failed": link.get("tx_failed", 0),
    }


def ethernet_run(seconds: float, destinations: list[int], seed: int) -> dict[str, Any]:
    net = Network(seed=seed)
    lan = net.segment("lan")
    hosts = [net.host(f"h{i}", lan, "", ipv6="slaac") for i in range(NODES)]
    ifaces = [host.iface for host in hosts]
    for iface in ifaces:
        iface.ipv6_timeout = 3.0  # no router: LOCAL_UP once DAD is over
    counts = dict.fromkeys(("sent", "received", "send_refused"), 0)
    try:
        connect, wall = net.run(
            timed_traffic(net.world, list(ifaces), destinations, seconds, counts)
        )
        frames = lan.stats["frames"]
    finally:
        net.close()
    return {
        **counts,
        "connect_wall_s": connect,
        "wall_s": wall,
        "virtual_s": seconds + INTERVAL,
        "speed": (seconds + INTERVAL) / wall,
        "frames": frames,
    }


def full_rows(seconds: float, repeats: int, seed: int = 3) -> list[dict[str, Any]]:
    destinations = mesh_destinations(seed)
    meshes, ethernets = [], []
    for _ in range(repeats):  # interleaved
        gc.collect()
        meshes.append(mesh_run(seconds, destinations, seed))
        gc.collect()
        ethernets.append(ethernet_run(seconds, destinations, seed))
    return [{"section": "full", **fastest(meshes), "ethernet": fastest(ethernets)}]


# --- 4. mesh-under ---------------------------------------------------------------------------


def line_run(hops: int, seed: int, gap: float) -> tuple[int, list[float]]:
    """Echoes answered, and their round-trip times (simulated s), over ``hops`` hops."""
    world = World.simulated(seed)
    medium = VirtualRadioMedium(world, UnitDisk(RANGE))
    radios = [
        MeshInterface(medium.add_radio((LINE_SPACING * i, 0)), world=world,
                      lowpan=LowpanConfig(mesh_under=True, fragment_gap=gap))
        for i in range(hops + 1)
    ]  # fmt: skip
    for i, radio in enumerate(radios):
        for j, other in enumerate(radios):
            if abs(i - j) > 1:  # out of range: through the neighbour on that side
                via = radios[i + 1 if j > i else i - 1]
                radio.link.add_mesh_route(other.phy.eui64, via.phy.eui64)
    first, last = radios[0], radios[-1]

    async def main() -> tuple[int, list[float]]:
        await asyncio.gather(*(r.connect() for r in radios))
        UdpEchoServer(last).start()
        address = last.get_ipv6_link_local_address()
        assert address is not None
        target = SocketAddress(address, 7, scope_id=first.netif.index)
        sock = UDPSocket(first)
        sock.set_timeout(5)
        payload = bytes(ECHO_PAYLOAD)
        rtts: list[float] = []
        for _ in range(ECHOES):
            start = world.now()
            await sock.sendto(target, payload)
            with contextlib.suppress(NetworkTimeoutError):
                if (await sock.recvfrom())[0] == payload:
                    rtts.append(world.now() - start)
        return len(rtts), rtts

    try:
        return world.run(main())
    finally:
        medium.close()
        world.close()


def line_rows(seeds: int) -> list[dict[str, Any]]:
    rows = []
    for hops in LINE_HOPS:
        row: dict[str, Any] = {"section": "line", "hops": hops, "sent": seeds * ECHOES}
        for name, gap in (("paced", LowpanConfig().fragment_gap), ("back_to_back", 0.0)):
            answered, rtts = 0, []
            for seed in range(1, seeds + 1):
                got, times = line_run(hops, seed, gap)
                answered += got
                rtts.extend(times)
            row[name] = {
                "answered": answered,
                "rtt_ms": 1e3 * sum(rtts) / len(rtts) if rtts else None,
            }
        rows.append(row)
    return rows


# --- the benchmark ---------------------------------------------------------------------------


def main(quick: bool = False) -> list[dict[str, Any]]:
    """Measure; print the table and return the rows."""
    seconds = 0.05 if quick else RUN_SECONDS
    repeats = 1 if quick else REPEATS
    rows: list[dict[str, Any]] = []
    rows.extend(iphc_rows(seconds, repeats))
    rows.extend(mac_rows(MAC_REQUESTS // 10 if quick else MAC_REQUESTS,
                         1 if quick else MAC_REPEATS))  # fmt: skip
    rows.extend(full_rows(SIM_SECONDS / 10 if quick else SIM_SECONDS, 1 if quick else FULL_REPEATS))
    rows.extend(line_rows(2 if quick else LINE_SEEDS))
    print(format_table(rows))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Python {sys.version.split()[0]}",
        "",
        "| # | measurement | netstack | reference (same run) | reference is |",
        "|---|---|---:|---:|---|",
    ]
    notes: list[str] = []
    letters = iter("abcdefghij")
    same: list[str] = []
    for r in rows:
        if r["section"] != "iphc":
            continue
        scapy = r["scapy"]
        ref = f"{scapy:,.0f}/s" if scapy is not None else "-"
        what = "Scapy 2.8, told netstack's IPHC fields ¹"
        if r["case"].startswith("global"):
            what = "Scapy 2.8, addresses in-line (it has no contexts) ¹"
        if scapy is None:
            what = "Scapy not installed"
        head = (
            f"IPHC round trip, {r['case']}, {r['ipv6_bytes']} B IPv6/UDP → "
            f"{r['lowpan_bytes']} B 6LoWPAN"
        )
        times = f" (netstack {r['framed'] / scapy:,.0f}x)" if scapy else ""
        lines.append(
            f"| 1{next(letters)} | {head}: `compress_ipv6` + `decompress_ipv6` "
            f"| **{r['bare']:,.0f}/s** | {ref} | {what} |"
        )
        lines.append(
            f"| 1{next(letters)} | … the same inside an 802.15.4 data frame of "
            f"{r['frame_bytes']} B: `Ieee802154Frame.build`/`parse` too "
            f"| **{r['framed']:,.0f}/s** | {ref} | the same{times} |"
        )
        if r.get("same_frame"):
            same.append(r["case"])
    notes.append(
        "¹ Scapy's round trip: `bytes()` of a prebuilt Dot15d4/Dot15d4Data/LoWPAN_IPHC/"
        "LoWPAN_NHC/IPv6/UDP/Raw packet (it builds the 802.15.4 header, the UDP checksum and "
        "the compressed headers afresh each time), then `bytes(Dot15d4(frame)[IPv6])` "
        "(dissects the 802.15.4 header, IPHC and NHC, rebuilds the IPv6 packet). Rows 1b/1d/1f "
        "do the same work on netstack's side; netstack takes the IPv6 packet as bytes and "
        "copies its UDP checksum. Frames byte for byte identical to netstack's: "
        + (", ".join(same) if same else "none")
        + "."
    )
    for r in rows:
        if r["section"] != "mac":
            continue
        phy = r["phy"]
        num = f"2{'abc'[MAC_SIZES.index(r['nodes'])] if r['nodes'] in MAC_SIZES else ''}"
        lines.append(
            f"| {num} | MAC: {r['nodes']:,} `Ieee802154Mac`s ({r['neighbours']:.1f} neighbours "
            f"each), acked unicast {PAYLOAD} B data frames every {PERIOD} s ±10 %, "
            f"{r['requests']:,} requests; data frames delivered per wall second ² "
            f"| **{r['rate']:,.0f}/s** ({r['air_rate']:,.0f} transmissions/s on the air) "
            f"| {phy['frames_per_s']:,.0f}/s "
            f"| PHY alone (bench_radio `frames`): {phy['frames']:,} broadcast `tx` with CCA, "
            f"same radios, transmissions per wall second "
            f"({phy['deliveries_per_s']:,.0f} receptions/s) |"
        )
        notes.append(
            f"² {r['nodes']:,} nodes: {r['requests']:,} requests in {r['virtual_s']:.1f} s "
            f"virtual, {r['wall_s']:.2f} s wall (best of {r['runs']}): {r['success']:,} "
            f"SUCCESS, {r['no_ack']:,} NO_ACK, {r['channel_access_failure']:,} "
            f"CHANNEL_ACCESS_FAILURE, {r['refused']:,} refused; {r['retries']:,} retries; "
            f"{r['delivered']:,} delivered ({r['duplicates']:,} duplicates dropped); "
            f"{r['air_frames']:,} transmissions on the air ({r['acks']:,} acks), "
            f"{r['collisions']:,} frames lost to collisions at receivers; {r['sensed']:.0%} "
            f"of the neighbour links reach the CCA threshold ({r['cca_threshold']:g} dBm), "
            "the rest are hidden from each other's CCA. PHY run: "
            f"{phy['wall_s']:.2f} s wall, {phy['collisions']:,} collisions."
        )
    for r in rows:
        if r["section"] != "full":
            continue
        eth = r["ethernet"]
        lines.append(
            f"| 3 | full stack: {NODES} `MeshInterface`s (UnitDisk {RANGE:g} m, "
            f"{r['neighbours']:.1f} neighbours each), each a {UDP_PAYLOAD} B UDP datagram "
            f"every {INTERVAL:g} s ±10 % to a neighbour's link-local address, "
            f"{r['virtual_s']:g} s virtual; simulated s per wall s ³ "
            f"| **{r['speed']:,.1f}** ({r['received']:,}/{r['sent']:,} delivered) "
            f"| {eth['speed']:,.1f} ({eth['received']:,}/{eth['sent']:,}) "
            f"| the same {NODES} nodes as Ethernet hosts on one `VirtualSegment`, "
            f"IPv6 link-local, same traffic |"
        )
        notes.append(
            f"³ Best of {r['runs']}. Mesh: {r['wall_s']:.2f} s wall for the traffic; "
            f"connecting all {NODES} took {r['connect_virtual_ms'] / 1000:.2f} s virtual, "
            f"{r['connect_wall_s']:.2f} s wall (not in the figure); {r['air_frames']:,} "
            f"transmissions on the air (acks included), {r['collisions']:,} collisions, "
            f"{r['mac_retries']:,} MAC retries, {r['mac_no_ack']:,} NO_ACK, "
            f"{r['mac_caf']:,} CHANNEL_ACCESS_FAILURE. Ethernet: {eth['wall_s']:.2f} s wall, "
            f"{eth['frames']:,} frames through the switch (NDP included), connecting "
            f"{eth['connect_virtual_ms'] / 1000:.2f} s virtual (waits out `ipv6_timeout`)."
        )
    for r in rows:
        if r["section"] != "line":
            continue
        paced, b2b = r["paced"], r["back_to_back"]

        def rtt(column: dict[str, Any]) -> str:
            return "no RTT" if column["rtt_ms"] is None else f"{column['rtt_ms']:,.0f} ms"

        lines.append(
            f"| 4{'abcd'[LINE_HOPS.index(r['hops'])]} | mesh-under, {r['hops']} radio hop"
            f"{'s' if r['hops'] > 1 else ''} ({r['hops'] + 1} radios in a row): "
            f"{ECHO_PAYLOAD} B UDP echoes answered, mean RTT (simulated) ⁴ "
            f"| **{paced['answered']}/{r['sent']}**, {rtt(paced)} "
            f"| {b2b['answered']}/{r['sent']}, {rtt(b2b)} "
            f"| the same lines, fragments back to back (`fragment_gap=0`) |"
        )
    if any(r["section"] == "line" for r in rows):
        notes.append(
            f"⁴ {LINE_SEEDS} seeded lines per hop count (`--quick`: 2), {ECHOES} echoes each, "
            f"{LINE_SPACING:g} m apart with a {RANGE:g} m unit disk; static mesh routes. One "
            "hop has no mesh header, so nothing to pace: both columns are the same run."
        )
    return "\n".join([*lines, "", *notes])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    main(quick=parser.parse_args().quick)
