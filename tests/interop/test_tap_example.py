"""examples/tap_node.py runs as written against the kernel on a TAP in a namespace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tap_node.py"


def test_tap_node_example_pings_the_kernel_and_echoes(tap):
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            tap.netns,
            sys.executable,
            "-u",  # whatever the environment says about buffering
            str(EXAMPLE),
            tap.name,
            "10.77.0.2",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.startswith("up: 10.77.0.2"), first + proc.stderr.read()  # type: ignore[union-attr]
        echo = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                tap.netns,
                "socat",
                "-t",
                "3",
                "-T",
                "5",
                "-",
                "UDP:10.77.0.2:7",
            ],
            input="hello tap\n",
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        assert echo.stdout == "hello tap\n"
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "3 packets transmitted, 3 received, 0% packet loss" in out
