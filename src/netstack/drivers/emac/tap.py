"""Linux TAP devices: the host kernel as a real Ethernet peer.

:class:`TapEMAC` attaches to a TAP interface through ``/dev/net/tun`` and moves whole
Ethernet frames with ``read``/``write`` on a non-blocking file descriptor registered with
the world's event loop. The kernel's side of the TAP is an ordinary interface (it may have
addresses, be bridged, live in another network namespace); the stack's side is this EMAC
with its own MAC address, drawn from the world's random generator unless given.

Offloads (``offload=True``): the device is opened with ``IFF_VNET_HDR`` and every frame
in both directions is preceded by a ``struct virtio_net_hdr`` (10 bytes, host byte order).
With ``TUNSETOFFLOAD`` (``TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6``) the kernel may hand us
frames with partial checksums and TCP segments coalesced up to 64 KiB, and it finishes the
checksums and segments the large frames we send with a :class:`TxOffload`; one system call
then moves up to 64 KiB.

Network namespaces (``netns="name"``): a TAP name is looked up in the caller's namespace;
opening ``/dev/net/tun`` elsewhere would silently create a new TAP there. So the device is
opened inside the namespace: the calling thread enters ``/var/run/netns/NAME`` with
``setns(2)``, opens and configures the TAP (and a control socket), and returns to its
original namespace before anything else happens, even on error. The file descriptors keep
working from the original namespace.

Link state: a TAP has carrier as long as a file descriptor is attached, which is us, so the
link follows whether the kernel side is administratively up (``IFF_UP``). It is polled
every ``link_poll_interval`` seconds (default 1 s) with ``SIOCGIFFLAGS`` on a control
socket created inside the TAP's namespace, and changes go to the link-state callback.
(``IFF_RUNNING`` trails carrier changes by the kernel's link-watch delay, and the carrier
bit ``IFF_LOWER_UP`` does not fit the 16-bit flags of that ioctl.)
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import os
import socket
import struct
from types import TracebackType
from typing import TYPE_CHECKING

from netstack.drivers.emac.api import (
    Capabilities,
    GsoType,
    LinkInputCallback,
    LinkStateCallback,
    RxFlags,
    TxOffload,
)
from netstack.drivers.wrappers.capture import complete_checksum
from netstack.wire import Buffer

if TYPE_CHECKING:
    import asyncio

    from netstack.runtime import World

log = logging.getLogger(__name__)

TUN_DEVICE = "/dev/net/tun"
NETNS_DIR = "/var/run/netns"

# <linux/if_tun.h>
TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
TUNSETVNETHDRSZ = 0x400454D8
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM = 0x01
TUN_F_TSO4 = 0x02
TUN_F_TSO6 = 0x04
TUN_F_TSO_ECN = 0x08
TUN_F_UFO = 0x10

# <linux/sockios.h>, <linux/if.h>
SIOCGIFFLAGS = 0x8913
SIOCGIFMTU = 0x8921
IFF_UP = 0x1
IFF_RUNNING = 0x40

# <sched.h>
CLONE_NEWNET = 0x40000000

# <linux/virtio_net.h>
VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
VIRTIO_NET_HDR_F_DATA_VALID = 2
VIRTIO_NET_HDR_GSO_NONE = 0
VIRTIO_NET_HDR_GSO_ECN = 0x80

#: struct virtio_net_hdr: flags u8, gso_type u8, hdr_len u16, gso_size u16, csum_start u16,
#: csum_offset u16, in host byte order (the TAP is not told otherwise).
VNET_HDR = struct.Struct("=BBHHHH")
VNET_HDR_LEN = VNET_HDR.size
_VNET_HDR_ZERO = bytes(VNET_HDR_LEN)

_IFREQ_FLAGS = struct.Struct("16sH22x")  # struct ifreq with ifr_flags
_IFREQ_INT = struct.Struct("16si20x")  # struct ifreq with ifr_mtu

#: Largest frame read: a 64 KiB GSO segment plus the Ethernet, VLAN and virtio headers.
_READ_SIZE = 65536 + 14 + 4 + VNET_HDR_LEN
GSO_MAX_SIZE = 65535 + 14

BROADCAST = b"\xff\xff\xff\xff\xff\xff"

STAT_NAMES = (
    "tx_frames",
    "tx_dropped",  # powered down, link down, or the kernel refused (EAGAIN, ENOBUFS, …)
    "rx_frames",
    "rx_dropped",  # no input callback, runt frame, or a read error
    "rx_filtered",  # unicast to another MAC, or an unjoined multicast group
)


def pack_vnet_hdr(offload: TxOffload | None) -> bytes:
    """The virtio_net_hdr asking the kernel for ``offload`` (zeros for none)."""
    if offload is None:
        return _VNET_HDR_ZERO
    flags = VIRTIO_NET_HDR_F_NEEDS_CSUM if offload.csum_start > 0 else 0
    return VNET_HDR.pack(
        flags,
        int(offload.gso_type),
        offload.hdr_len,
        offload.gso_size,
        offload.csum_start,
        offload.csum_offset,
    )


def unpack_vnet_hdr_flags(header: Buffer) -> RxFlags:
    """RxFlags for a received frame's virtio_net_hdr."""
    flags, gso_type, _hdr_len, _gso_size, _start, _offset = VNET_HDR.unpack_from(header)
    rx = RxFlags.NONE
    if flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID):
        rx |= RxFlags.CSUM_VALID
    if gso_type != VIRTIO_NET_HDR_GSO_NONE:
        rx |= RxFlags.GSO
    return rx


def _libc_setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class _Namespace:
    """Context manager: run the body with the calling thread inside a network namespace."""

    def __init__(self, netns: str | None) -> None:
        self.netns = netns
        self._home = -1

    def __enter__(self) -> None:
        if self.netns is None:
            return
        path = self.netns if "/" in self.netns else os.path.join(NETNS_DIR, self.netns)
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _libc_setns(target)
            except BaseException:
                os.close(self._home)
                raise
        finally:
            os.close(target)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.netns is None:
            return
        try:
            _libc_setns(self._home)  # if this fails the thread is stranded: let it raise
        finally:
            os.close(self._home)


def random_hwaddr(world: World) -> bytes:
    """A locally administered unicast MAC from the world's random generator."""
    mac = bytearray(world.rng.getrandbits(48).to_bytes(6, "big"))
    mac[0] = (mac[0] & 0xFC) | 0x02
    return bytes(mac)


class TapEMAC:
    """An EMAC on a Linux TAP device; see the module docstring.

    The device is attached at construction (so a missing device, a busy TAP or missing
    privileges fail early, as :class:`OSError`); :meth:`power_up` starts reading it on the
    world's loop and :meth:`power_down` detaches it. Use it as a context manager to make
    sure the descriptor is closed.
    """

    def __init__(
        self,
        name: str,
        world: World,
        *,
        hwaddr: bytes | None = None,
        offload: bool = False,
        netns: str | None = None,
        max_batch: int = 64,
        link_poll_interval: float = 1.0,
    ) -> None:
        if not 0 < len(name.encode()) < 16:
            raise ValueError(f"bad interface name {name!r}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if not link_poll_interval > 0:
            raise ValueError(f"link_poll_interval must be > 0, got {link_poll_interval}")
        if hwaddr is None:
            hwaddr = random_hwaddr(world)
        elif len(hwaddr) != 6:
            raise ValueError(f"hwaddr must be 6 bytes, got {len(hwaddr)}")
        self.name = name
        self.netns = netns
        self.offload = offload
        self.max_batch = max_batch
        self.link_poll_interval = link_poll_interval
        self._world = world
        self._hwaddr = bytes(hwaddr)
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        self._fd = -1
        self._ctl: socket.socket | None = None
        self._reading = False
        self._powered = False
        self._link = False
        self._poll_timer: asyncio.TimerHandle | None = None
        self._input_cb: LinkInputCallback | None = None
        self._state_cb: LinkStateCallback | None = None
        self._all_multicast = True
        self._groups: set[bytes] = set()
        self._mtu = 1500
        self._capabilities = Capabilities()
        self._open()

    # --- device --------------------------------------------------------------------------

    @property
    def fileno(self) -> int:
        """The TAP's file descriptor (-1 when detached)."""
        return self._fd

    def _open(self) -> None:
        flags = IFF_TAP | IFF_NO_PI | (IFF_VNET_HDR if self.offload else 0)
        ifname = self.name.encode()
        fd = -1
        ctl: socket.socket | None = None
        try:
            with _Namespace(self.netns):
                fd = os.open(TUN_DEVICE, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
                fcntl.ioctl(fd, TUNSETIFF, _IFREQ_FLAGS.pack(ifname, flags))
                if self.offload:
                    fcntl.ioctl(fd, TUNSETVNETHDRSZ, struct.pack("i", VNET_HDR_LEN))
                    fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
                # A socket belongs to the namespace it was created in: ioctls on it ask
                # about the TAP's namespace from wherever they are made.
                ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        except OSError as exc:
            if fd >= 0:
                os.close(fd)
            if ctl is not None:
                ctl.close()
            where = f" in netns {self.netns}" if self.netns else ""
            raise OSError(
                exc.errno, f"cannot attach TAP {self.name}{where}: {exc.strerror}"
            ) from exc
        self._fd = fd
        self._ctl = ctl
        self._mtu = self._query_mtu()
        self._capabilities = Capabilities(
            mtu=self._mtu,
            tx_checksum=self.offload,
            tx_tso=self.offload,
            rx_checksum=self.offload,
            rx_gso=self.offload,
            gso_max_size=GSO_MAX_SIZE if self.offload else 0,
        )
        self._link = self._query_up()
        log.debug("attached TAP %s (netns %s, offload %s)", self.name, self.netns, self.offload)

    def _query_mtu(self) -> int:
        assert self._ctl is not None
        try:
            result = fcntl.ioctl(self._ctl, SIOCGIFMTU, _IFREQ_INT.pack(self.name.encode(), 0))
        except OSError as exc:
            log.debug("SIOCGIFMTU on %s failed: %s", self.name, exc)
            return 1500
        mtu: int = _IFREQ_INT.unpack(result)[1]
        return mtu if mtu > 0 else 1500

    def _query_up(self) -> bool:
        if self._ctl is None:
            return False
        try:
            result = fcntl.ioctl(self._ctl, SIOCGIFFLAGS, _IFREQ_FLAGS.pack(self.name.encode(), 0))
        except OSError as exc:
            log.debug("SIOCGIFFLAGS on %s failed: %s", self.name, exc)
            return False
        flags: int = _IFREQ_FLAGS.unpack(result)[1]
        return bool(flags & IFF_UP)

    def _close(self) -> None:
        if self._reading:
            self._world.loop.remove_reader(self._fd)
            self._reading = False
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None

    # --- EMAC ----------------------------------------------------------------------------

    @property
    def hwaddr(self) -> bytes:
        return self._hwaddr

    @property
    def mtu(self) -> int:
        return self._mtu

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def link_up(self) -> bool:
        return self._powered and self._link

    def power_up(self) -> bool:
        """Start reading frames and polling the link; reattaches after :meth:`power_down`.

        A link that is up is reported to the link-state callback from the loop.
        """
        if self._powered:
            return True
        if self._fd < 0:
            try:
                self._open()
            except OSError as exc:
                log.warning("%s", exc)
                return False
        self._powered = True
        self._world.loop.add_reader(self._fd, self._on_readable)
        self._reading = True
        self._link = self._query_up()
        if self._link:
            self._world.call_soon(self._report_initial_up)
        self._poll_timer = self._world.call_later(self.link_poll_interval, self._poll_link)
        return True

    def power_down(self) -> None:
        """Stop reading, stop polling and detach from the device."""
        self._powered = False
        if self._poll_timer is not None:
            self._poll_timer.cancel()
            self._poll_timer = None
        self._close()

    def close(self) -> None:
        self.power_down()

    def __enter__(self) -> TapEMAC:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.power_down()

    def set_link_input_cb(self, cb: LinkInputCallback | None) -> None:
        self._input_cb = cb

    def set_link_state_cb(self, cb: LinkStateCallback | None) -> None:
        self._state_cb = cb

    def add_multicast_group(self, mac: bytes) -> None:
        self._groups.add(bytes(mac))

    def remove_multicast_group(self, mac: bytes) -> None:
        self._groups.discard(bytes(mac))

    def set_all_multicast(self, on: bool) -> None:
        self._all_multicast = on

    def link_out(self, frame: Buffer, offload: TxOffload | None = None) -> bool:
        """Write one frame to the kernel. Dropped (False) if down or the kernel refuses it."""
        stats = self.stats
        if not (self._powered and self._link):
            stats["tx_dropped"] += 1
            return False
        try:
            if self.offload:
                os.writev(self._fd, (pack_vnet_hdr(offload), frame))
            elif offload is not None and offload.csum_start > 0:
                # No offloads without a vnet header (see capabilities): finish the checksum
                # here rather than hand the kernel a partial one.
                os.write(self._fd, complete_checksum(frame, offload))
            else:
                os.write(self._fd, frame)
        except OSError as exc:
            # EAGAIN/ENOBUFS: the kernel's queue is full; EIO: the device went down.
            stats["tx_dropped"] += 1
            if exc.errno not in (errno.EAGAIN, errno.ENOBUFS, errno.EIO):
                log.debug("write to TAP %s failed: %s", self.name, exc)
            return False
        stats["tx_frames"] += 1
        return True

    # --- the loop's side -------------------------------------------------------------------

    def _on_readable(self) -> None:
        """Read up to ``max_batch`` frames, so timers and output keep running under a flood."""
        stats = self.stats
        fd = self._fd
        offload = self.offload
        hwaddr = self._hwaddr
        for _ in range(self.max_batch):
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:
                stats["rx_dropped"] += 1
                log.debug("read from TAP %s failed: %s", self.name, exc)
                return
            view = memoryview(data)
            flags = RxFlags.NONE
            if offload:
                if len(view) < VNET_HDR_LEN:
                    stats["rx_dropped"] += 1
                    continue
                flags = unpack_vnet_hdr_flags(view)
                view = view[VNET_HDR_LEN:]
            if len(view) < 14:
                stats["rx_dropped"] += 1
                continue
            dst = view[0:6]
            if dst[0] & 1:
                if not self._all_multicast and dst != BROADCAST and dst not in self._groups:
                    stats["rx_filtered"] += 1
                    continue
            elif dst != hwaddr:
                stats["rx_filtered"] += 1
                continue
            cb = self._input_cb
            if cb is None:
                stats["rx_dropped"] += 1
                continue
            stats["rx_frames"] += 1
            cb(view, flags)
            if self._fd != fd:  # the callback powered us down
                return

    def _report_initial_up(self) -> None:
        if self._powered and self._link and self._state_cb is not None:
            self._state_cb(True)

    def _poll_link(self) -> None:
        self._poll_timer = None
        if not self._powered:
            return
        up = self._query_up()
        if up != self._link:
            self._link = up
            log.debug("TAP %s link %s", self.name, "up" if up else "down")
            if self._state_cb is not None:
                self._state_cb(up)
        if self._powered and self._poll_timer is None:
            self._poll_timer = self._world.call_later(self.link_poll_interval, self._poll_link)

    def __repr__(self) -> str:
        where = f" netns={self.netns}" if self.netns else ""
        return f"<TapEMAC {self.name}{where} fd={self._fd}>"


__all__ = ["GsoType", "TapEMAC", "pack_vnet_hdr", "random_hwaddr", "unpack_vnet_hdr_flags"]
