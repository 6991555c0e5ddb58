"""Compare the output of two mse-lint installations, byte for byte.

Usage::

    python benchmarks/compare_outputs.py OLD_MSE_LINT NEW_MSE_LINT [--cache-dir DIR]
                                         [--formats console,json,...] [--skip-django]

``OLD_MSE_LINT`` and ``NEW_MSE_LINT`` are the console scripts of two installs (for example a
virtualenv with main's wheel and one with a branch's). Each runs, with ``--no-cache
--isolated --no-color``, in every output format, on:

* every fixture project and fixture folder under ``tests/fixtures`` (each folder holding an
  ``mse.toml``, and each family folder of annotated files as a whole);
* the bundled example app ``examples/report-service``;
* Django 5.1's ``django/`` package (the benchmark's corpus in ``benchmarks/.corpus``,
  downloaded once by ``benchmarks/bench.py``'s helper), unless ``--skip-django``.

Both run from the same working directory (this repository), so relative paths in the output
are the same. The script prints one line per target and format that differs (with the first
differing line of each side) and exits 1 when any does, 0 when every output and exit code is
identical. It is the check behind a refactoring that must not change behaviour.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
# the run's own duration (the console summary) changes between any two runs
_TIMINGS = re.compile(rb"checked in [0-9.]+ s")
FORMATS = ("console", "concise", "json", "sarif", "github", "gitlab", "junit")


def targets(skip_django: bool, cache_dir: Path) -> list[Path]:
    fixtures = REPO_DIR / "tests" / "fixtures"
    found = sorted({p.parent for p in fixtures.rglob("mse.toml")})
    found += sorted(p for p in fixtures.iterdir() if p.is_dir() and p.name != "projects")
    example = REPO_DIR / "examples" / "report-service"
    if example.is_dir():
        found.append(example)
    if not skip_django:
        sys.path.insert(0, str(BENCH_DIR))
        import bench  # the benchmark's own download and extraction of the corpus

        found.append(bench.django_corpus(cache_dir).path)
    return found


def supported_formats(exe: str, wanted: tuple[str, ...], scratch: Path) -> list[str]:
    """The formats of ``wanted`` that ``exe`` accepts (an older install may lack one): it
    exits 2 on an unknown format, 0 on an empty folder."""
    out = []
    for fmt in wanted:
        argv = [exe, "--isolated", "-q", "--no-cache", "--format", fmt, str(scratch)]
        if subprocess.run(argv, capture_output=True).returncode != 2:
            out.append(fmt)
    return out


def run(exe: str, target: Path, fmt: str) -> tuple[int, bytes, bytes]:
    shown = target.relative_to(REPO_DIR) if target.is_relative_to(REPO_DIR) else target
    argv = [exe, str(shown), "--no-cache", "--isolated", "--no-color", "--format", fmt]
    proc = subprocess.run(argv, capture_output=True, cwd=REPO_DIR)
    return proc.returncode, _TIMINGS.sub(b"checked in <time> s", proc.stdout), proc.stderr


def first_difference(a: bytes, b: bytes) -> tuple[int, str, str]:
    la, lb = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return i + 1, x.decode("utf-8", "replace"), y.decode("utf-8", "replace")
    n = min(len(la), len(lb))
    rest_a = la[n].decode("utf-8", "replace") if len(la) > n else "<end>"
    rest_b = lb[n].decode("utf-8", "replace") if len(lb) > n else "<end>"
    return n + 1, rest_a, rest_b


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--cache-dir", type=Path, default=BENCH_DIR / ".corpus")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--skip-django", action="store_true")
    args = parser.parse_args(argv)
    wanted = tuple(f for f in args.formats.split(",") if f)
    with tempfile.TemporaryDirectory() as scratch:
        old_formats = set(supported_formats(args.old, wanted, Path(scratch)))
        formats = [
            f for f in supported_formats(args.new, wanted, Path(scratch)) if f in old_formats
        ]
    skipped = [f for f in wanted if f not in formats]
    if skipped:
        print(f"formats not accepted by both installs, not compared: {', '.join(skipped)}")
    differing = compared = 0
    for target in targets(args.skip_django, args.cache_dir):
        for fmt in formats:
            compared += 1
            a, b = run(args.old, target, fmt), run(args.new, target, fmt)
            if a == b:
                continue
            differing += 1
            where = target.relative_to(REPO_DIR) if target.is_relative_to(REPO_DIR) else target
            if a[0] != b[0]:
                print(f"{where} [{fmt}]: exit code {a[0]} -> {b[0]}")
            for name, x, y in (("stdout", a[1], b[1]), ("stderr", a[2], b[2])):
                if x != y:
                    line, old, new = first_difference(x, y)
                    print(f"{where} [{fmt}] {name} line {line}:\n  - {old}\n  + {new}")
    print(f"{compared} outputs compared, {differing} differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
