"""A PPP "ISP" on a new pseudo-terminal, for `netstack ppp` (or any PPP client) to dial.

    python examples/ppp_isp.py [--auth pap|chap] [--user alice --password secret] [--once]

Prints the pty to dial (``dial /dev/pts/N``), answers PPP on it as 10.64.0.1, gives the
caller 10.64.0.10 and serves echo (TCP and UDP port 7) until interrupted — or, with
``--once``, until the first caller hangs up. Then, in another terminal:

    netstack ppp --device /dev/pts/N --user alice --password secret --ping 10.64.0.1
"""

import argparse
import asyncio

from netstack.drivers.serial import TtyPort
from netstack.interfaces.base import ConnectionStatus
from netstack.interfaces.ppp import PPPInterface
from netstack.runtime.world import World
from netstack.services.echo import UdpEchoServer
from netstack.services.tcp import TcpEchoServer


async def serve(args: argparse.Namespace) -> None:
    world = World(asyncio.get_running_loop(), seed=1)
    port = TtyPort.open_pty(world)
    secrets = {args.user: args.password} if args.auth else None
    isp = PPPInterface.server(port, world=world, local="10.64.0.1", pool="10.64.0.10",
                              dns=("10.64.0.1",), auth=args.auth, secrets=secrets)  # fmt: skip
    TcpEchoServer(isp).start()
    UdpEchoServer(isp).start()
    print(f"dial {port.slave_path}", flush=True)
    while True:
        try:
            await isp.connect()
        except OSError as exc:
            print(f"call failed: {exc}", flush=True)
        else:
            print(f"caller {isp.peer_name or '-'} got {isp.gateway}", flush=True)
            await isp.wait_for_status({ConnectionStatus.DISCONNECTED})
            print(f"caller hung up: {isp.last_error}", flush=True)
        if args.once:
            return


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auth", choices=("pap", "chap"), help="require authentication")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--once", action="store_true", help="exit after the first call")
    asyncio.run(serve(parser.parse_args()))
