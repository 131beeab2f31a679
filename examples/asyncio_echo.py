"""asyncio streams on netstack: an echo server and its client on a simulated LAN.

Plain asyncio code (StreamReader/StreamWriter) over netstack's TCP, in virtual time: runs as
written, no root. The same calls work on a real link (a TAP) with the interface as `stack`.
"""

import asyncio

from netstack.sim import LinkParams, Network
from netstack.socket.aio import open_connection, start_server


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    peer = writer.get_extra_info("peername")
    while line := await reader.readline():
        writer.write(line)
        await writer.drain()
    print(f"server: {peer[0]} closed")
    writer.close()


async def main(net: Network) -> None:
    await net.start()
    server = await start_server(echo, port=7, stack=net.hosts["server"])
    async with server:
        for address in ("10.0.0.2", "2001:db8::2"):
            reader, writer = await open_connection(address, 7, stack=net.hosts["client"])
            for text in (b"hello, asyncio\n", b"on netstack\n"):
                start = net.now()
                writer.write(text)
                await writer.drain()
                echoed = await reader.readline()
                rtt = (net.now() - start) * 1e3
                print(f"client: {address} echoed {echoed!r} in {rtt:.1f} ms (simulated)")
            writer.close()
            await writer.wait_closed()


if __name__ == "__main__":
    net = Network(seed=1)
    lan = net.segment("lan", LinkParams(latency=5e-3))  # 5 ms each way
    net.host("client", lan, "10.0.0.1/24", ipv6="static:2001:db8::1/64")
    net.host("server", lan, "10.0.0.2/24", ipv6="static:2001:db8::2/64")
    net.run(main(net))
    net.close()
