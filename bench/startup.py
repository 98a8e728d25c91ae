"""Benchmark: how long ``shuian --help`` and every sub-command's ``--help`` take, wall clock.

Each command runs as its own process, as a user runs it: a new interpreter that imports
``shuian.cli`` and prints the help, exactly what the ``shuian`` console script does (it is run
as ``python -c "from shuian.cli import app; app()" ...`` so that the source tree of this
checkout is the one timed), with the compiled modules cached (``__pycache__``, written by a
warm-up run even where ``PYTHONDONTWRITEBYTECODE`` is set), as after an install. The figure of
a command is the best of ``--runs`` runs (the least disturbed by other work on the machine),
with the median and the CPU time (user + system, which load on the machine inflates less than
the wall clock) beside it; the bare interpreter's start (``python -c pass``) is measured alike,
as the floor nothing can go below. The sub-commands are read from the app itself, so a new
command is timed without editing this file.

The target is 0.5 s for every command (issue 12): the CLI imports only typer, rich and light
Shuian modules at its top, and the database layer, pandas, the site model and the adapters
inside the commands that use them (``tests/test_layers.py`` keeps that without timing).
Usage: ``python bench/startup.py [--quick] [--runs N]`` (``--quick``: one run each, under a
minute). The last line printed is one JSON object of the figures, with ``ratio``: the slowest
command's time over the 0.5 s floor (at most 1 meets the target), and the load of the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import typer

import shuian
from shuian.cli import app

FLOOR_S = 0.5
SRC = Path(shuian.__file__).resolve().parent.parent
RUN_CLI = "import sys; from shuian.cli import app; sys.exit(app())"


def commands() -> list[list[str]]:
    """Every command path of the app, the app itself first: ``[], ["ingest"], ["user", "add"]``."""
    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        found.append(path)
        children = getattr(command, "commands", {})  # a group (typer's own click or click's)
        for name in sorted(children):
            walk(children[name], [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one run of ``argv`` (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(runs: int) -> dict[str, object]:
    """Best and median time of the bare interpreter and of each command's ``--help``."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled modules cached, as after an install
    cases = {"(python -c pass)": [sys.executable, "-c", "pass"]}
    for path in commands():
        cases[" ".join(["shuian", *path, "--help"])] = [sys.executable, "-c", RUN_CLI, *path,
                                                        "--help"]
    timed(cases["shuian --help"], env)  # warm-up: writes the compiled modules of the CLI
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):  # round-robin, so that a burst of load spreads over all commands
        for name, argv in cases.items():
            wall, used = timed(argv, env)
            times[name].append(wall)
            cpu[name].append(used)
    best = {name: min(t) for name, t in times.items()}
    median = {name: statistics.median(t) for name, t in times.items()}
    cpu_best = {name: min(t) for name, t in cpu.items()}
    print(f"{'command':<40} {'best s':>8} {'median s':>9} {'CPU s':>7}")
    for name in cases:
        print(f"{name:<40} {best[name]:>8.3f} {median[name]:>9.3f} {cpu_best[name]:>7.3f}")
    shuian_cases = [name for name in cases if name.startswith("shuian")]
    slowest = max(shuian_cases, key=best.__getitem__)
    return {
        "runs": runs,
        "python_s": round(best["(python -c pass)"], 4),
        "help_s": round(best["shuian --help"], 4),
        "ingest_help_s": round(best["shuian ingest --help"], 4),
        "commands": {name: round(best[name], 4) for name in shuian_cases},
        "slowest": slowest,
        "slowest_s": round(best[slowest], 4),
        "slowest_cpu_s": round(max(cpu_best[name] for name in shuian_cases), 4),
        "load_1min": round(os.getloadavg()[0], 2),
        "floor_s": FLOOR_S,
        "ratio": round(best[slowest] / FLOOR_S, 3),
    }


def main() -> None:
    """Time the commands and print the table, then the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each (under a minute)")
    parser.add_argument("--runs", type=int, default=None, help="runs of each command (default 7)")
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 7)
    figures = measure(runs)
    print(f"slowest: {figures['slowest']} {figures['slowest_s']:.3f} s = {figures['ratio']:.2f} "
          f"x the {FLOOR_S} s target")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
