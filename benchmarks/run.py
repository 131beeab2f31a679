"""Run every ``benchmarks/bench_*.py`` and write the combined tables to ``latest.md``.

Each module's ``main()`` (called with ``quick=`` when it takes it) returns its rows as dicts
and prints its own table; here its printed output goes to stderr as progress, and the
combined report (the module's ``format_table(rows)`` when it has one, else a table of the
dicts) goes to stdout and to ``benchmarks/latest.md`` with the date and the machine.

    python benchmarks/run.py                 # everything (``make bench``)
    python benchmarks/run.py --quick         # smoke run (writes no report)
    python benchmarks/run.py --only sim,wire # some modules
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import importlib.util
import inspect
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "latest.md"


def discover() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(HERE), "status", "--porcelain", "--", str(HERE.parent / "src")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev} (src modified)" if dirty else rev


def netstack_elsewhere() -> str | None:
    """Where ``netstack`` is imported from, if not this tree's ``src/`` (e.g. PYTHONPATH)."""
    try:
        spec = importlib.util.find_spec("netstack")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    src = Path(spec.origin).resolve().parent.parent
    return None if src == (HERE.parent / "src").resolve() else str(src)


def machine_info() -> list[str]:
    elsewhere = netstack_elsewhere()
    return [
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- kernel: {platform.release()} ({platform.machine()})",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical CPUs",
        f"- Python: {sys.version.split()[0]} ({platform.python_implementation()})",
        f"- netstack revision: {git_revision()}",
        *(
            [f"- netstack measured: imported from {elsewhere}, not this tree's src/"]
            if elsewhere
            else []
        ),
    ]


def generic_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(cell(row.get(k, "")) for k in keys) + " |")
    return "\n".join(lines)


def run_module(name: str, quick: bool) -> tuple[str, bool]:
    """Import and run one module; its Markdown section and whether it succeeded."""
    start = time.perf_counter()
    module: ModuleType | None = None
    try:
        module = importlib.import_module(name)
        main = module.main
        kwargs = {"quick": quick} if "quick" in inspect.signature(main).parameters else {}
        with contextlib.redirect_stdout(sys.stderr):
            rows = main(**kwargs)
        formatter = getattr(module, "format_table", None)
        table = formatter(rows) if callable(formatter) else generic_table(rows)
        ok = True
    except Exception:
        table = "**failed:**\n\n```\n" + traceback.format_exc().strip() + "\n```"
        ok = False
    elapsed = time.perf_counter() - start
    doc = (module.__doc__ or "").strip().splitlines() if module is not None else []
    title = f"## {name}" + (f": {doc[0]}" if doc else "")
    return f"{title}\n\n{table}\n\n_{elapsed:.1f} s_\n", ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke runs")
    parser.add_argument("--only", metavar="LIST", help="comma-separated: tap,sim,wire,...")
    parser.add_argument(
        "--output", type=Path, help=f"report file (default {OUTPUT.name}; none with --quick)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    names = discover()
    if args.only:
        wanted = {f"bench_{n.removeprefix('bench_')}" for n in args.only.split(",") if n}
        names = [n for n in names if n in wanted]
    sections = []
    failed = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        section, ok = run_module(name, args.quick)
        sections.append(section)
        if not ok:
            failed.append(name)
    report = "\n".join(
        [
            "# netstack benchmarks" + (" (quick)" if args.quick else ""),
            "",
            *machine_info(),
            "",
            *sections,
        ]
    )
    print(report)
    output = args.output or (None if args.quick else OUTPUT)
    if output is not None:
        output.write_text(report)
        print(f"wrote {output}", file=sys.stderr)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
