"""EthernetInterface: connect/disconnect, status callbacks, link events, errors."""

from __future__ import annotations

import pytest

from netstack.drivers.emac.virtual import VirtualSegment
from netstack.errors import (
    DhcpFailureError,
    IsConnectedError,
    NoConnectionError,
    ParameterError,
)
from netstack.interfaces import ConnectionStatus, EthernetInterface
from netstack.runtime import World


def make():
    world = World.simulated(seed=1)
    seg = VirtualSegment(world)
    port = seg.add_port()
    iface = EthernetInterface(port, world=world)
    return world, port, iface


def test_status_sequence_and_addresses():
    world, _, iface = make()
    seen: list[ConnectionStatus] = []
    iface.attach(lambda event, status: seen.append(status))
    iface.set_network("192.168.7.2", "255.255.255.0", "192.168.7.1")
    world.run(iface.connect())
    assert iface.status is ConnectionStatus.GLOBAL_UP
    assert (iface.ip_address, iface.netmask, iface.gateway) == (
        "192.168.7.2",
        "255.255.255.0",
        "192.168.7.1",
    )
    assert iface.mac_address == "02:00:00:00:00:01"
    world.run(iface.disconnect())
    assert seen == [
        ConnectionStatus.CONNECTING,
        ConnectionStatus.GLOBAL_UP,
        ConnectionStatus.DISCONNECTED,
    ]
    assert iface.ip_address is None


def test_dhcp_is_the_default_and_fails_clearly_without_a_server():
    world, _, iface = make()
    assert iface.dhcp
    with pytest.raises(DhcpFailureError, match=r"no DHCP lease after 60\.0 s"):
        world.run(iface.connect())
    assert world.now() == pytest.approx(60.0)
    assert iface.status is ConnectionStatus.DISCONNECTED


def test_connect_twice_and_disconnect_twice():
    world, _, iface = make()
    iface.set_network("10.0.0.2", 24)
    world.run(iface.connect())
    with pytest.raises(IsConnectedError):
        world.run(iface.connect())
    world.run(iface.disconnect())
    with pytest.raises(NoConnectionError):
        world.run(iface.disconnect())


def test_link_loss_and_return_are_reported():
    world, port, iface = make()
    listener: list[ConnectionStatus] = []
    iface.add_event_listener(lambda e, s: listener.append(s))
    iface.set_network("10.0.0.2", 24)
    world.run(iface.connect())
    port.set_link(False)
    world.run_for(0.1)
    assert iface.status is ConnectionStatus.CONNECTING
    port.set_link(True)
    world.run_for(0.1)
    assert iface.status is ConnectionStatus.GLOBAL_UP
    assert listener[-3:] == [
        ConnectionStatus.GLOBAL_UP,
        ConnectionStatus.CONNECTING,
        ConnectionStatus.GLOBAL_UP,
    ]


def test_connect_without_link_times_out_on_the_world_clock():
    world, port, iface = make()
    port.set_link(False)
    iface.set_network("10.0.0.2", 24)
    iface.link_timeout = 60.0
    with pytest.raises(NoConnectionError, match="no link"):
        world.run(iface.connect())
    assert world.now() == pytest.approx(60.0)
    assert iface.status is ConnectionStatus.DISCONNECTED


def test_bad_static_configuration_is_rejected():
    _, _, iface = make()
    with pytest.raises(ParameterError):
        iface.set_network("10.0.0.300", 24)
    with pytest.raises(ParameterError):
        iface.set_network("10.0.0.3", "255.0.255.0")
