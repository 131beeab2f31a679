"""What the mesh stack puts on the air, judged by Wireshark's dissectors rather than ours.

A scenario makes the stack emit every kind of frame it sends — MAC acks, IPHC with
link-local (fully elided), multicast and context-based global addresses, UDP NHC, ICMPv6,
FRAG1/FRAGN of large datagrams, and the same again under AES-CCM* frame security — into
the medium's capture (link type 195). tshark, given the key and the context, must decode
every frame with a good FCS and no malformed packets or expert warnings, and show the
addresses, ports and payloads the sockets used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest

from netstack.drivers.rfphy import UnitDisk, VirtualRadioMedium
from netstack.interfaces.mesh import MeshInterface
from netstack.runtime.world import World
from netstack.services.ping import ping
from netstack.socket import UDPSocket
from netstack.stacks.mesh.lowpan import LowpanConfig
from netstack.wire.sixlowpan import LowpanContext

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

KEY = bytes(range(16))
PREFIX = "2001:db8:1::/64"
PAYLOAD = b"judged by wireshark"


def scenario(path: Path, key: bytes | None) -> tuple[MeshInterface, MeshInterface, str, str]:
    world = World.simulated(11)
    medium = VirtualRadioMedium(world, UnitDisk(50.0), capture=path)
    lowpan = LowpanConfig(contexts={0: LowpanContext.from_string(PREFIX)})
    a, b = (MeshInterface(medium.add_radio((x, 0)), world=world, security_key=key,
                          lowpan=lowpan) for x in (0, 20))  # fmt: skip
    globals_: list[str] = []

    async def main() -> None:
        await asyncio.gather(a.connect(), b.connect())
        for node in (a, b):
            assert node.netif.ip6 is not None
            eui = node.link.hwaddr
            address = b"\x20\x01\x0d\xb8\x00\x01\0\0" + bytes((eui[0] ^ 2,)) + eui[1:]
            node.netif.ip6.add_static(address, 64)
            globals_.append(str(ipaddress.IPv6Address(address)))
        receiver = UDPSocket(b)
        receiver.bind(61458)
        sender = UDPSocket(a)
        sender.bind(61616)  # 0xF0B0 and 0xF012: the 4- and 8-bit port forms (RFC 6282 §4.3.1)
        b_ll = b.get_ipv6_link_local_address()
        assert b_ll is not None
        link_local = f"{ipaddress.IPv6Address(b_ll.packed)}%{a.netif.index}"
        for target in (link_local, globals_[1]):
            await sender.sendto((target, 61458), PAYLOAD)
            receiver.set_timeout(5)
            await receiver.recvfrom()
        await ping(a, f"ff02::1%{a.netif.index}", count=1, timeout=1)
        await ping(a, globals_[1], count=1, size=900)  # fragmented both ways
        sender.close()
        receiver.close()

    world.run(main())
    medium.close()
    return a, b, globals_[0], globals_[1]


def tshark(path: Path, *args: str) -> str:
    assert TSHARK is not None
    options = [
        "-o", f"6lowpan.context0:{PREFIX}",
        "-o", f'uat:ieee802154_keys:"{KEY.hex()}","1","No hash"',
    ]  # fmt: skip
    result = subprocess.run([TSHARK, "-r", str(path), *options, *args],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("secured", [False, True], ids=["plain", "secured"])
def test_every_frame_the_stack_emits_decodes_in_wireshark(tmp_path: Path, secured: bool) -> None:
    path = tmp_path / "air.pcap"
    a, b, a_global, b_global = scenario(path, KEY if secured else None)
    verbose = tshark(path, "-V")
    problems = [line.strip() for line in verbose.splitlines()
                if "Malformed" in line or "Expert Info (Warning" in line
                or "Expert Info (Error" in line]  # fmt: skip
    assert not problems, problems[:5]
    fields = ["frame.protocols", "wpan.fcs_ok", "wpan.aux_sec.sec_level", "ipv6.src",
              "ipv6.dst", "udp.srcport", "udp.dstport", "data.data", "6lowpan.pattern",
              "6lowpan.frag.size"]  # fmt: skip
    rows = [
        dict(zip(fields, line.split("\t"), strict=False))
        for line in tshark(
            path, "-T", "fields", *[a for f in fields for a in ("-e", f)]
        ).splitlines()
    ]
    assert rows and all(row["wpan.fcs_ok"] in ("1", "True") for row in rows)
    data_frames = [r for r in rows if "6lowpan" in r["frame.protocols"]]
    assert data_frames
    if secured:
        assert all(int(r["wpan.aux_sec.sec_level"], 0) == 5 for r in data_frames)
    udp = [r for r in rows if r["udp.dstport"] == "61458"]
    assert {r["udp.srcport"] for r in udp} == {"61616"}
    assert {bytes.fromhex(r["data.data"]) for r in udp} == {PAYLOAD}
    a_ll = a.get_ipv6_link_local_address()
    b_ll = b.get_ipv6_link_local_address()
    assert a_ll is not None and b_ll is not None
    pairs = {(r["ipv6.src"], r["ipv6.dst"]) for r in udp}
    a_ll_text = str(ipaddress.IPv6Address(a_ll.packed))
    b_ll_text = str(ipaddress.IPv6Address(b_ll.packed))
    assert (a_ll_text, b_ll_text) in pairs  # fully elided, from the MAC addresses
    assert (a_global, b_global) in pairs  # context 0
    assert any(r["ipv6.dst"] == "ff02::1" for r in rows)  # multicast compression
    assert any(r["6lowpan.frag.size"] for r in rows)  # FRAG1/FRAGN, reassembled by tshark
