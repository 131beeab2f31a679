"""Provision the interpreter and package that ``bench_tap.py`` runs PyTCP with.

PyTCP, the reference stack the TAP benchmark measures beside netstack, is pinned in
``pyproject.toml`` (``[project.optional-dependencies] bench``). PyTCP 3.0.9 requires
Python >= 3.14 — its source uses 3.14-only syntax, so no older interpreter can even compile
it — while this project's venv is the machine's Python 3.11 and Debian 12 ships no 3.14.
So, without touching the system (nothing is installed with dpkg, the system's apt lists
and configuration stay as they are), this script puts together a private runtime under
``DEST`` (``make bench`` uses ``.venv/pytcp``):

- ``root/``: Debian unstable's CPython 3.14 packages and the shared libraries they need
  (glibc included), fetched by ``apt-get download`` from the Debian archive the system is
  configured with (a private, sid-only apt state under ``apt/``) and unpacked with
  ``dpkg-deb -x``;
- ``site/``: the pinned ``pytcp`` and its two ``PyTCP-net_*`` dependencies (pure-Python
  wheels), installed by this venv's pip with ``--target`` for Python 3.14;
- ``bin/python``: runs that interpreter through its own dynamic loader
  (``ld-linux --library-path root/...``; the system's glibc is older than it needs) with
  ``site/`` on ``PYTHONPATH``. It ``exec``s, so the PID the caller gets is Python's own;
- ``manifest.txt``: the Debian package versions and the PyTCP version; ``.installed`` last.

    python benchmarks/pytcp_runtime.py install .venv/pytcp
    python benchmarks/pytcp_runtime.py check .venv/pytcp   # prints the versions
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYPROJECT = HERE.parent / "pyproject.toml"
PEER = HERE / "pytcp_peer.py"

#: Debian unstable's CPython 3.14 and what its interpreter and the stdlib extension
#: modules that PyTCP touches link against (``ldd`` of ``lib-dynload``).
DEBIAN_PACKAGES = (
    "python3.14-minimal",
    "libpython3.14-minimal",
    "libpython3.14-stdlib",
    "libc6",
    "libgcc-s1",
    "libssl3t64",
    "libexpat1",
    "zlib1g",
    "libbz2-1.0",
    "libffi8",
    "liblzma5",
    "libzstd1",
    "libsqlite3-0",
    "libuuid1",
    "libmpdec4",
    "libncursesw6",
    "libtinfo6",
    "libreadline8t64",
    "libdb5.3t64",
)
PYTHON_VERSION = "3.14"
SUITE = "sid"
LIBDIR = "usr/lib/x86_64-linux-gnu"


class ProvisionError(RuntimeError):
    pass


def run(*cmd: str | Path, timeout: float = 600.0) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise ProvisionError(
            f"{' '.join(map(str, cmd))}: exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"
        )
    return proc.stdout


def pinned_requirement() -> str:
    """``pytcp==X`` from the ``bench`` extra of pyproject.toml (without its marker)."""
    with PYPROJECT.open("rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    for req in extras.get("bench", []):
        spec = req.split(";", 1)[0].strip()
        if re.match(r"(?i)pytcp\s*==", spec):
            return spec.replace(" ", "")
    raise ProvisionError("no pytcp==VERSION in [project.optional-dependencies] bench")


def debian_archive() -> str:
    """The URI the system's apt takes the Debian main archive from."""
    out = run("apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE) $(COMPONENT)")
    codename = ""
    with open("/etc/os-release") as f:
        for line in f:
            if line.startswith("VERSION_CODENAME="):
                codename = line.split("=", 1)[1].strip().strip('"')
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == codename and parts[2] == "main":
            return parts[0]
    raise ProvisionError(f"no Debian main archive for {codename!r} in the apt configuration")


def apt_options(apt: Path) -> list[str]:
    return [
        "-o", f"Dir::Etc::sourcelist={apt / 'sources.list'}",
        "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::Etc::preferencesparts={apt / 'preferences.d'}",
        "-o", f"Dir::State::Lists={apt / 'lists'}",
        "-o", f"Dir::State::status={apt / 'status'}",
        "-o", f"Dir::Cache={apt / 'cache'}",
        "-o", "APT::Sandbox::User=root",
        "-q",
    ]  # fmt: skip


def fetch_debian(dest: Path) -> list[str]:
    """Download and unpack the packages into ``dest/root``; their ``name version`` lines."""
    apt = dest / "apt"
    for sub in ("lists/partial", "cache/archives/partial", "preferences.d"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    (apt / "status").touch()
    (apt / "sources.list").write_text(f"deb {debian_archive()} {SUITE} main\n")
    opts = apt_options(apt)
    run("apt-get", *opts, "update")
    debs = dest / "debs"
    shutil.rmtree(debs, ignore_errors=True)
    debs.mkdir()
    proc = subprocess.run(
        ["apt-get", *opts, "download", *DEBIAN_PACKAGES],
        cwd=debs,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise ProvisionError(f"apt-get download: {proc.stderr.strip()[-2000:]}")
    root = dest / "root"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    versions = []
    for deb in sorted(debs.glob("*.deb")):
        run("dpkg-deb", "-x", deb, root)
        versions.append(run("dpkg-deb", "-W", "--showformat", "${Package} ${Version}", deb))
    shutil.rmtree(debs)
    shutil.rmtree(apt)  # the sid package lists: ~60 MB, only needed for the download
    return versions


def install_pytcp(dest: Path, requirement: str) -> None:
    site = dest / "site"
    shutil.rmtree(site, ignore_errors=True)
    run(
        sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
        "--target", site, "--python-version", PYTHON_VERSION, "--implementation", "cp",
        "--only-binary=:all:", requirement,
    )  # fmt: skip


def write_launcher(dest: Path) -> Path:
    root = (dest / "root").resolve()
    libdir = root / LIBDIR
    launcher = dest / "bin" / "python"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(
        "#!/bin/sh\n"
        "# Debian unstable's CPython 3.14 on its own glibc, with PyTCP on the path.\n"
        f'PYTHONPATH="{(dest / "site").resolve()}" exec "{libdir}/ld-linux-x86-64.so.2" '
        f'--library-path "{libdir}" "{root}/usr/bin/python{PYTHON_VERSION}" "$@"\n'
    )
    launcher.chmod(0o755)
    return launcher


def check(dest: Path) -> str:
    """The launcher's ``pytcp_peer.py version`` line (PyTCP and Python versions)."""
    launcher = dest / "bin" / "python"
    if not os.access(launcher, os.X_OK):
        raise ProvisionError(f"{launcher} missing: run `make bench` (or this script's install)")
    return run(launcher, PEER, "version", timeout=60).strip()


def install(dest: Path) -> None:
    dest = dest.resolve()
    stamp = dest / ".installed"
    stamp.unlink(missing_ok=True)
    dest.mkdir(parents=True, exist_ok=True)
    requirement = pinned_requirement()
    versions = fetch_debian(dest)
    install_pytcp(dest, requirement)
    write_launcher(dest)
    line = check(dest)
    (dest / "manifest.txt").write_text(
        f"{requirement}\npytcp_peer.py version: {line}\n" + "\n".join(versions) + "\n"
    )
    stamp.touch()
    print(f"PyTCP runtime in {dest}: pytcp {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("install", "check"))
    parser.add_argument("dest", type=Path)
    args = parser.parse_args()
    try:
        if args.action == "install":
            install(args.dest)
        else:
            print(check(args.dest))
    except (ProvisionError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"pytcp_runtime: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
