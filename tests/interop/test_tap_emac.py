"""TapEMAC against the Linux kernel: a TAP in a namespace, answered by hand-built frames.

A tiny responder (ARP and ICMP echo, built with ``struct``) stands in for a stack, so these
tests exercise only the driver: frames must move both ways, with and without the virtio
offload header, and the link state must follow the kernel's side of the TAP.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_ipv4_kernel import kernel_side_running

from netstack.drivers.emac.api import EMAC, GsoType, RxFlags, TxOffload
from netstack.drivers.emac.tap import TapEMAC, pack_vnet_hdr, unpack_vnet_hdr_flags
from netstack.drivers.wrappers import PcapTap
from netstack.runtime import World
from netstack.wire.checksum import internet_checksum, pseudo_header_sum

if TYPE_CHECKING:
    from conftest import TapDevice

pytestmark = pytest.mark.interop

OUR_IP = socket.inet_aton("10.77.0.2")
ETH = struct.Struct("!6s6sH")
ARP = struct.Struct("!HHBBH6s4s6s4s")
IPV4 = struct.Struct("!BBHHHBBH4s4s")


def arp_reply(our_mac: bytes, our_ip: bytes, request: bytes) -> bytes | None:
    """The ARP reply (RFC 826) to ``request`` if it asks for ``our_ip``, else None."""
    if len(request) < ETH.size + ARP.size:
        return None
    _htype, ptype, _hlen, _plen, op, sha, spa, _tha, tpa = ARP.unpack_from(request, ETH.size)
    if op != 1 or ptype != 0x0800 or tpa != our_ip:
        return None
    return ETH.pack(sha, our_mac, 0x0806) + ARP.pack(1, 0x0800, 6, 4, 2, our_mac, our_ip, sha, spa)


def ipv4_header(src: bytes, dst: bytes, proto: int, payload_len: int) -> bytes:
    header = IPV4.pack(0x45, 0, 20 + payload_len, 0, 0x4000, 64, proto, 0, src, dst)
    return header[:10] + struct.pack("!H", internet_checksum(header)) + header[12:]


class Responder:
    """Answers ARP for 10.77.0.2 and ICMP echo requests; records UDP datagrams."""

    def __init__(self, emac: EMAC) -> None:
        self.emac = emac
        self.arp_replies = 0
        self.echo_replies = 0
        self.udp: list[tuple[int, bytes, RxFlags]] = []
        emac.set_link_input_cb(self.on_frame)

    def on_frame(self, frame: memoryview, flags: RxFlags) -> None:
        data = bytes(frame)
        dst, src, ethertype = ETH.unpack_from(data)
        if ethertype == 0x0806:
            reply = arp_reply(self.emac.hwaddr, OUR_IP, data)
            if reply is not None and self.emac.link_out(reply):
                self.arp_replies += 1
        elif ethertype == 0x0800 and len(data) >= 34:
            ihl = (data[14] & 0x0F) * 4
            proto, ip_src, ip_dst = data[23], data[26:30], data[30:34]
            body = data[14 + ihl :]
            if ip_dst != OUR_IP:
                return
            if proto == 1 and body[:1] == b"\x08":  # ICMP echo request (RFC 792)
                icmp = b"\x00\x00\x00\x00" + body[4:]
                icmp = icmp[:2] + struct.pack("!H", internet_checksum(icmp)) + icmp[4:]
                reply = ETH.pack(src, dst, 0x0800) + ipv4_header(OUR_IP, ip_src, 1, len(icmp))
                if self.emac.link_out(reply + icmp):
                    self.echo_replies += 1
            elif proto == 17:
                dport = struct.unpack_from("!H", body, 2)[0]
                self.udp.append((dport, body[8:], flags))


async def run_in_netns(tap: TapDevice, cmd: Sequence[str], timeout: float = 8.0) -> tuple[int, str]:
    """Run ``cmd`` in the TAP's namespace without blocking the loop; kill it on timeout."""
    proc = await asyncio.create_subprocess_exec(
        *tap.argv(cmd), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def until(condition: Callable[[], bool], timeout: float = 3.0, step: float = 0.02) -> bool:
    """Let the loop run until ``condition()`` holds (polling), or ``timeout`` passes."""
    for _ in range(int(timeout / step)):
        if condition():
            return True
        await asyncio.sleep(step)
    return condition()


def kernel_mac(tap: TapDevice) -> bytes:
    info = json.loads(tap.run(["ip", "-j", "link", "show", tap.name]).stdout)
    return bytes.fromhex(info[0]["address"].replace(":", ""))


def this_threads_netns() -> str:
    return os.readlink("/proc/thread-self/ns/net")


def test_kernel_pings_us_through_the_tap(
    tap: TapDevice, real_world: World, tmp_path: Path, tshark: Callable[..., list[list[str]]]
) -> None:
    world = real_world
    home = this_threads_netns()
    pcap = tmp_path / "tap.pcap"

    async def main() -> tuple[int, str, Responder]:
        with TapEMAC(tap.name, world, netns=tap.netns) as tap_emac:
            assert this_threads_netns() == home  # back in our own namespace
            emac = PcapTap(tap_emac, pcap, world)
            responder = Responder(emac)
            assert emac.power_up()
            assert emac.link_up
            await kernel_side_running(tap)  # else the kernel may drop its first ARP reply
            rc, out = await run_in_netns(
                tap, ["ping", "-n", "-c", "3", "-W", "1", "-w", "6", "-i", "0.2", "10.77.0.2"]
            )
            emac.close()
            return rc, out, responder

    rc, out, responder = world.run(main())
    assert rc == 0 and "3 received" in out, out
    assert responder.arp_replies >= 1
    assert responder.echo_replies == 3
    # The TAP was opened in the test's namespace, not created anew in ours.
    assert not os.path.exists(f"/sys/class/net/{tap.name}")
    rows = tshark(
        pcap,
        ["icmp.type", "ip.checksum.status", "icmp.checksum.status"],
        filter="icmp",
        opts=["-o", "ip.check_checksum:TRUE"],
    )
    assert [r[0] for r in rows] == ["8", "0"] * 3
    assert all(r[1] == "1" and r[2] == "1" for r in rows)


async def udp_to_kernel_with_checksum_offload(emac: TapEMAC, tap: TapDevice) -> str:
    """Send 10.77.0.2:40000 -> 10.77.0.1:9998 with the UDP checksum left to the driver
    (a :class:`TxOffload` request); return the line a socat listener in the netns got."""
    listener = await asyncio.create_subprocess_exec(
        *tap.argv(["socat", "-u", "UDP4-RECV:9998,bind=10.77.0.1", "STDOUT"]),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        payload = b"us-to-kernel\n"
        udp_len = 8 + len(payload)
        host = socket.inet_aton(tap.host_ip)
        seed = pseudo_header_sum(OUR_IP, host, 17, udp_len)  # what the field holds
        frame = (
            ETH.pack(kernel_mac(tap), emac.hwaddr, 0x0800)
            + ipv4_header(OUR_IP, host, 17, udp_len)
            + struct.pack("!HHHH", 40000, 9998, udp_len, seed)
            + payload
        )
        offload = TxOffload(csum_start=34, csum_offset=6)
        assert listener.stdout is not None
        read = asyncio.ensure_future(listener.stdout.readline())
        for _ in range(40):  # resend until the listener is bound
            assert emac.link_out(frame, offload)
            done, _ = await asyncio.wait({read}, timeout=0.1)
            if done:
                break
        try:
            return (await asyncio.wait_for(read, 1.0)).decode()
        except TimeoutError:
            pytest.fail("the kernel never delivered the datagram (dropped for a bad checksum?)")
    finally:
        listener.kill()
        await listener.wait()


def test_offload_device_reports_offloads_and_receives_kernel_udp(
    tap: TapDevice, real_world: World
) -> None:
    world = real_world

    async def main() -> Responder:
        with TapEMAC(tap.name, world, netns=tap.netns, offload=True) as emac:
            caps = emac.capabilities
            assert caps.tx_checksum and caps.tx_tso and caps.rx_checksum and caps.rx_gso
            assert caps.gso_max_size == 65535 + 14 and caps.mtu == emac.mtu == 1500
            responder = Responder(emac)
            assert emac.power_up() and emac.link_up
            # socat sends once the kernel's ARP request has been answered.
            rc, out = await run_in_netns(
                tap, ["sh", "-c", "echo kernel-to-us | socat -u - UDP4-SENDTO:10.77.0.2:9999"]
            )
            assert rc == 0, out
            assert await until(lambda: bool(responder.udp))
            return responder

    responder = world.run(main())
    assert responder.arp_replies >= 1
    [(dport, data, flags)] = responder.udp
    assert (dport, data) == (9999, b"kernel-to-us\n")
    # The kernel leaves its UDP checksum to the "hardware": a partial checksum, flagged.
    assert flags & RxFlags.CSUM_VALID


@pytest.mark.parametrize("offload", [True, False], ids=["vnet-header", "software"])
def test_checksum_offload_request_reaches_the_kernel_with_a_valid_checksum(
    tap: TapDevice, real_world: World, offload: bool
) -> None:
    # With offload the kernel completes the checksum (a wrong vnet header would make it
    # verify the partial one and drop the datagram); without, the driver completes it and
    # the kernel verifies it.
    async def main() -> str:
        with TapEMAC(tap.name, real_world, netns=tap.netns, offload=offload) as emac:
            assert emac.power_up()
            return await udp_to_kernel_with_checksum_offload(emac, tap)

    assert real_world.run(main()) == "us-to-kernel\n"


def test_link_state_follows_the_kernel_side(tap: TapDevice, real_world: World) -> None:
    world = real_world

    async def main() -> list[bool]:
        states: list[bool] = []
        with TapEMAC(tap.name, world, netns=tap.netns, link_poll_interval=0.05) as emac:
            emac.set_link_state_cb(states.append)
            emac.power_up()
            assert await until(lambda: states == [True])
            assert "LOWER_UP" in tap.flags()  # our fd gives the kernel carrier
            tap.run(["ip", "link", "set", tap.name, "down"])
            assert await until(lambda: states == [True, False])
            assert not emac.link_up
            assert emac.link_out(bytes(60)) is False
            tap.run(["ip", "link", "set", tap.name, "up"])
            assert await until(lambda: states == [True, False, True])
            assert emac.link_up
            emac.power_down()
            assert "NO-CARRIER" in tap.flags()
            assert emac.power_up()  # reattaches
            assert "NO-CARRIER" not in tap.flags()
            assert await until(lambda: len(states) == 4)  # reported again after power-up
        return states

    assert world.run(main()) == [True, False, True, True]


def test_attach_errors_leave_the_thread_in_its_own_namespace(
    tap: TapDevice, real_world: World
) -> None:
    home = this_threads_netns()
    with pytest.raises(FileNotFoundError):
        TapEMAC(tap.name, real_world, netns="ns_does_not_exist_here")
    assert this_threads_netns() == home
    with TapEMAC(tap.name, real_world, netns=tap.netns):
        with pytest.raises(OSError) as busy:  # a single-queue TAP takes one fd only
            TapEMAC(tap.name, real_world, netns=tap.netns)
        assert busy.value.errno == 16  # EBUSY
        assert this_threads_netns() == home


def test_our_mac_comes_from_the_world_s_random_generator(tap: TapDevice) -> None:
    def mac(seed: int) -> bytes:
        world = World(asyncio.new_event_loop(), seed=seed)
        try:
            with TapEMAC(tap.name, world, netns=tap.netns) as emac:
                return emac.hwaddr
        finally:
            world.close()

    first = mac(5)
    assert first == mac(5) != mac(6)
    assert first[0] & 0x03 == 0x02  # locally administered, unicast
    assert first != kernel_mac(tap)


def test_virtio_net_header_packing() -> None:
    offload = TxOffload(
        csum_start=34, csum_offset=16, gso_type=GsoType.TCPV4, gso_size=1448, hdr_len=66
    )
    header = pack_vnet_hdr(offload)
    assert header == struct.pack("=BBHHHH", 1, 1, 66, 1448, 34, 16)
    assert pack_vnet_hdr(None) == bytes(10)
    assert unpack_vnet_hdr_flags(header) == RxFlags.CSUM_VALID | RxFlags.GSO
    assert unpack_vnet_hdr_flags(struct.pack("=BBHHHH", 2, 0, 0, 0, 0, 0)) == RxFlags.CSUM_VALID
    assert unpack_vnet_hdr_flags(bytes(10)) == RxFlags.NONE
