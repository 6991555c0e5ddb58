"""Whole-process benchmark of mse-lint against peer linters.

Usage::

    python benchmarks/bench.py [--runs N] [--install-peers] [--mse-lint PATH]
                               [--markdown FILE] [--cache-dir DIR] [--skip TOOL ...]

Run it with the interpreter of the environment mse-lint is installed in (e.g.
``/tmp/venv/bin/python benchmarks/bench.py``): mse-lint is looked up next to that
interpreter unless ``--mse-lint`` is given, and the peers are run as
``python -m <peer>`` with the same interpreter.

Corpora:

* ``django``: the ``django/`` package of the Django 5.1 sdist, downloaded once with
  ``pip download`` into ``benchmarks/.corpus/`` and extracted there (both reused);
* ``examples``: the bundled example app ``examples/report-service`` (a small Flask app with
  mse.toml; skipped when missing);
* ``one-file``: a ~30 line Flask app written to a temporary folder (the pre-commit
  case, where start-up time dominates).

Tools (every one as a whole process, the way users run it):

* ``mse-lint``: cold, ``--no-cache`` (no results cached, none written); on ``one-file`` it
  is the pre-commit case instead: the file's results are not cached (the results cache is
  emptied before every run) and are written to the cache, as a commit hook does;
* ``mse-lint warm``: the results cache filled by the warm-up run, nothing changed;
* ``bandit -r``; ``semgrep`` with three rules equivalent to mse-lint's (process spawning,
  ``os.fork``, a hard-coded password; ``benchmarks/semgrep-rules.yaml``, offline:
  ``--metrics=off``); ``ruff S`` (``ruff check --select S --no-cache``, default threads);
  ``ruff S warm`` (its cache filled by the warm-up run); ``detect-secrets scan`` on the
  same ``.py`` files.

Each tool runs once as a warm-up, then ``--runs`` times per corpus, interleaved
(every tool once, then again...) so that drift affects every tool alike. The script
reports min / median / max wall clock, the peak RSS (of the largest single process of
the tool's process tree, as returned by ``wait4``), the ratios of mse-lint's medians to
each peer's, and checks the targets of issue 8 (PASS / FAIL). Timings on a shared
machine are noisy: the ratios, measured in the same run, are what the targets use.

Exit codes: 0 every target met, 1 a target failed, 2 a tool crashed (an exit code
outside its "findings" codes) or the benchmark could not be set up.

Adding a peer is one entry in ``peers()``: its name, a command builder, the command
that checks it is available (and prints its version) and its pip requirement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DJANGO_SPEC = "Django==5.1.*"
PYTHON = sys.executable


# --------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class Tool:
    """A linter to time: how to run it on a target and how to tell it is installed."""

    name: str
    command: Callable[[Path], list[str]]  # target (folder or file) -> argv
    version_command: list[str]  # exits 0 when the tool is available; prints its version
    ok_codes: frozenset[int] = frozenset({0, 1})  # 1 = "found something", not a crash
    requirement: str = ""  # what `pip install` needs; "" when pip cannot install it
    env: dict[str, str] = field(default_factory=dict)  # added to the environment
    before: Optional[Callable[[Corpus], None]] = None  # run before each timed run
    family: str = ""  # the tool whose version to report ("" = its own name)
    # run from the target's folder (given "." or the file's name): for a tool that silently
    # skips files outside its working directory
    in_target: bool = False


def _mse_lint_argv(executable: Path, target: Path) -> list[str]:
    return [str(executable), str(target), "--format", "json", "-o", os.devnull, "--isolated", "-q"]


def mse_lint_tools(executable: Path, scratch: Path) -> list[Tool]:
    """Cold (no cache) and warm (cache filled by the warm-up run, nothing changed)."""
    warm_dir = scratch / "mse-lint-warm"
    one_file_dir = scratch / "mse-lint-one-file"

    def cold(target: Path) -> list[str]:
        if target.is_file():  # the pre-commit case: the file's results not cached yet
            return _mse_lint_argv(executable, target)
        return [*_mse_lint_argv(executable, target), "--no-cache"]

    def fresh_results(corpus: Corpus) -> None:
        if corpus.path.is_file():
            shutil.rmtree(one_file_dir / "v1", ignore_errors=True)

    version = [str(executable), "--version"]
    return [
        Tool(
            "mse-lint",
            cold,
            version,
            env={"MSE_LINT_CACHE_DIR": str(one_file_dir)},
            before=fresh_results,
        ),
        Tool(
            "mse-lint warm",
            lambda target: _mse_lint_argv(executable, target),
            version,
            env={"MSE_LINT_CACHE_DIR": str(warm_dir)},
            family="mse-lint",
        ),
    ]


SEMGREP_RULES = BENCH_DIR / "semgrep-rules.yaml"


def peers(scratch: Path) -> list[Tool]:
    ruff_cache = scratch / "ruff-warm"
    return [
        Tool(
            name="bandit",
            command=lambda target: [
                PYTHON,
                "-m",
                "bandit",
                "-r",
                str(target),
                "-q",
                "-f",
                "json",
                "-o",
                os.devnull,
            ],
            version_command=[PYTHON, "-m", "bandit", "--version"],
            requirement="bandit",
        ),
        Tool(
            name="semgrep",
            command=lambda target: [
                _script("semgrep"),
                "scan",
                "--config",
                str(SEMGREP_RULES),
                "--metrics=off",
                "--disable-version-check",
                # scan the files, not only those git tracks: the corpus sits in a folder this
                # repository ignores, and semgrep otherwise scans nothing there
                "--no-git-ignore",
                "--quiet",
                "--json",
                "-o",
                os.devnull,
                str(target),
            ],
            version_command=[_script("semgrep"), "--version", "--disable-version-check"],
            requirement="semgrep",
            env={"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"},
        ),
        Tool(
            name="ruff S",
            command=lambda target: [
                _script("ruff"),
                "check",
                "--select",
                "S",
                "--no-cache",
                "-q",
                "--exit-zero",
                str(target),
            ],
            version_command=[_script("ruff"), "--version"],
            requirement="ruff",
            family="ruff",
        ),
        Tool(
            name="ruff S warm",
            command=lambda target: [
                _script("ruff"),
                "check",
                "--select",
                "S",
                "--cache-dir",
                str(ruff_cache),
                "-q",
                "--exit-zero",
                str(target),
            ],
            version_command=[_script("ruff"), "--version"],
            requirement="ruff",
            family="ruff",
        ),
        Tool(
            name="detect-secrets",
            command=lambda target: [
                _script("detect-secrets"),
                "scan",
                "--all-files",
                # the same files as the others: Python sources only
                "--exclude-files",
                r".*(?<!\.py)$",
                str(target),
            ],
            version_command=[_script("detect-secrets"), "--version"],
            requirement="detect-secrets",
            # detect-secrets scans only files under its working directory (others are
            # dropped without a word, even with --all-files)
            in_target=True,
        ),
    ]


def _script(name: str) -> str:
    """A console script installed next to this interpreter, else found on PATH."""
    here = Path(PYTHON).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def tool_version(tool: Tool) -> Optional[str]:
    """The tool's version, or None when it cannot be run."""
    try:
        proc = subprocess.run(
            tool.version_command,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,  # semgrep waits on an open stdin
            env={**os.environ, **tool.env},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    match = re.search(r"\d+\.\d+(?:\.\d+)?\S*", proc.stdout + proc.stderr)
    return match.group(0) if match else "unknown"


def ensure_peer(tool: Tool, install: bool) -> Optional[str]:
    """Return the peer's version, installing it first if asked; None if unavailable."""
    version = tool_version(tool)
    if version is not None or not install or not tool.requirement:
        return version
    print(f"installing {tool.requirement} into {sys.prefix} ...", flush=True)
    subprocess.run([PYTHON, "-m", "pip", "install", "-q", tool.requirement], check=False)
    return tool_version(tool)


# --------------------------------------------------------------------------- corpora


@dataclass(frozen=True)
class Corpus:
    name: str
    path: Path
    files: int  # number of .py files


def count_py(path: Path) -> int:
    return 1 if path.is_file() else sum(1 for _ in path.rglob("*.py"))


def find_extracted_django(cache: Path) -> Optional[Path]:
    for candidate in sorted(cache.glob("[Dd]jango-5.1*/django")):
        if candidate.is_dir():
            return candidate
    return None


def download_django(cache: Path) -> Path:
    """The Django sdist in ``cache``, downloaded with pip unless already there."""
    sdists = sorted(cache.glob("[Dd]jango-5.1*.tar.gz"))
    if sdists:
        return sdists[-1]
    print(f"downloading {DJANGO_SPEC} sdist into {cache} ...", flush=True)
    argv = [PYTHON, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    subprocess.run([*argv, DJANGO_SPEC, "-d", str(cache)], check=True)
    sdists = sorted(cache.glob("[Dd]jango-5.1*.tar.gz"))
    if not sdists:
        raise RuntimeError(f"pip download left no Django 5.1 sdist in {cache}")
    return sdists[-1]


def extract(archive: Path, dest: Path) -> None:
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.12+, and security backports
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)  # a PyPI sdist pip just downloaded


def django_corpus(cache: Path) -> Corpus:
    cache.mkdir(parents=True, exist_ok=True)
    package = find_extracted_django(cache)
    if package is None:
        archive = download_django(cache)
        print(f"extracting {archive.name} ...", flush=True)
        extract(archive, cache)
        package = find_extracted_django(cache)
        if package is None:
            raise RuntimeError(f"no django/ package folder in {archive}")
    return Corpus("django", package, count_py(package))


def examples_corpus() -> Optional[Corpus]:
    path = REPO_DIR / "examples" / "report-service"
    files = count_py(path) if path.is_dir() else 0
    if files == 0:
        print(f"note: {path} is missing or has no .py file; skipping the examples corpus")
        return None
    return Corpus("examples", path, files)


ONE_FILE_APP = '''\
"""A small Flask app, the kind of file a pre-commit hook lints."""

import subprocess

from flask import Flask, jsonify, request

app = Flask(__name__)
NOTES: dict[str, str] = {}


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.post("/notes/<name>")
def add_note(name: str):
    NOTES[name] = request.get_data(as_text=True)
    return jsonify(saved=name), 201


@app.get("/notes/<name>")
def get_note(name: str):
    if name not in NOTES:
        return jsonify(error="not found"), 404
    return jsonify(name=name, text=NOTES[name])


@app.get("/uptime")
def uptime():
    out = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    return jsonify(uptime=out.stdout.strip())


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
'''


def one_file_corpus(tmp: Path) -> Corpus:
    path = tmp / "app.py"
    path.write_text(ONE_FILE_APP, encoding="utf-8")
    return Corpus("one-file", path, 1)


# --------------------------------------------------------------------------- timing


class ToolCrash(Exception):
    pass


@dataclass
class Sample:
    seconds: float
    peak_rss_kib: Optional[int]


@dataclass
class Series:
    tool: str
    corpus: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return [s.seconds for s in self.samples]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def peak_rss_mib(self) -> Optional[float]:
        rss = [s.peak_rss_kib for s in self.samples if s.peak_rss_kib is not None]
        return max(rss) / 1024 if rss else None


def run_once(
    argv: list[str], env: Optional[dict[str, str]] = None, cwd: Optional[Path] = None
) -> tuple[int, float, Optional[int], bytes]:
    """Run argv; return exit code, wall clock seconds, peak RSS in KiB, stderr."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=cwd,
        )
        if hasattr(os, "wait4"):
            # wait4 gives this child's own rusage: ru_maxrss is the largest RSS of the
            # child and of the descendants it waited for (not their sum).
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            proc.returncode = code = os.waitstatus_to_exitcode(status)
            rss: Optional[int] = usage.ru_maxrss
            if sys.platform == "darwin":
                rss //= 1024  # bytes there, KiB on Linux
        else:
            code = proc.wait()
            elapsed = time.perf_counter() - start
            rss = None
        err.seek(0)
        return code, elapsed, rss, err.read()


def measure(tool: Tool, corpus: Corpus, cwd: Path) -> Sample:
    argv = tool.command(corpus.path)
    if tool.in_target:
        folder = corpus.path if corpus.path.is_dir() else corpus.path.parent
        here = "." if corpus.path.is_dir() else corpus.path.name
        argv = tool.command(Path(here))
        cwd = folder
    if tool.before is not None:
        tool.before(corpus)
    env = {**os.environ, **tool.env}
    code, seconds, rss, stderr = run_once(argv, env, cwd)
    if code not in tool.ok_codes:
        tail = stderr.decode(errors="replace")[-2000:]
        raise ToolCrash(
            f"{tool.name} exited {code} on {corpus.name}: {' '.join(argv)}\n"
            + textwrap.indent(tail, "    ")
        )
    return Sample(seconds, rss)


def bench_corpus(tools: list[Tool], corpus: Corpus, runs: int, cwd: Path) -> list[Series]:
    print(f"timing {corpus.name} ({corpus.files} .py files, {runs} runs) ...", flush=True)
    series = [Series(t.name, corpus.name) for t in tools]
    for tool in tools:  # warm-up: page cache, .pyc files, the warm tools' caches
        measure(tool, corpus, cwd)
    for i in range(runs):
        for tool, s in zip(tools, series):
            s.samples.append(measure(tool, corpus, cwd))
        print(f"  run {i + 1}/{runs} done", flush=True)
    return series


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Target:
    name: str
    value: Optional[float]
    limit: float
    unit: str

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value <= self.limit

    def line(self) -> str:
        shown = "n/a" if self.value is None else f"{self.value:.3g}{self.unit}"
        status = "PASS" if self.passed else "FAIL"
        return f"{status}  {self.name}: {shown} (limit {self.limit:g}{self.unit})"


def find_series(results: list[Series], tool: str, corpus: str) -> Optional[Series]:
    return next((s for s in results if s.tool == tool and s.corpus == corpus), None)


# (our series, the peer's): the ratios reported for each corpus
RATIOS: list[tuple[str, str]] = [
    ("mse-lint", "bandit"),
    ("mse-lint", "semgrep"),
    ("mse-lint", "ruff S"),
    ("mse-lint", "detect-secrets"),
    ("mse-lint warm", "ruff S warm"),
]


def ratio(results: list[Series], corpus: str, peer: str, ours: str = "mse-lint") -> Optional[float]:
    mine = find_series(results, ours, corpus)
    theirs = find_series(results, peer, corpus)
    if mine is None or theirs is None:
        return None
    return mine.median / theirs.median


def table_rows(results: list[Series]) -> list[list[str]]:
    rows = []
    for s in results:
        rss = s.peak_rss_mib
        shown = []
        for ours, peer in RATIOS:
            r = ratio(results, s.corpus, peer, ours) if s.tool == ours else None
            if r is not None:
                shown.append(f"{r:.2f}x {peer}")
        rows.append(
            [
                s.corpus,
                s.tool,
                f"{min(s.times):.3f}",
                f"{s.median:.3f}",
                f"{max(s.times):.3f}",
                "-" if rss is None else f"{rss:.0f}",
                ", ".join(shown) or "-",
            ]
        )
    return rows


HEADER = ["corpus", "tool", "min s", "median s", "max s", "peak RSS MiB", "median ratio"]


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [HEADER, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines(versions: dict[str, str], runs: int) -> list[str]:
    return [
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_version()} ({PYTHON})",
        *(f"- {name}: {version}" for name, version in versions.items()),
        f"- runs: {runs} per tool and corpus after one warm-up, interleaved",
    ]


def write_markdown(
    path: Path, rows: list[list[str]], targets: list[Target], versions: dict[str, str], runs: int
) -> None:
    parts = [
        "# mse-lint benchmark",
        "",
        "Written by `benchmarks/bench.py` (see benchmarks/README.md for what each row runs).",
        "",
        *machine_lines(versions, runs),
        "",
        markdown_table(rows),
        "",
        "Wall clock of the whole process. Median ratio: this row's median / the named peer's "
        "median, measured in the same run. Peak RSS: largest single process of the tool's "
        "process tree.",
        "",
        "## Targets (issue 8)",
        "",
        *(f"- {t.line()}" for t in targets),
        "",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")


# --------------------------------------------------------------------------- main


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time mse-lint against peer linters (whole-process wall clock)."
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    parser.add_argument(
        "--mse-lint",
        type=Path,
        default=Path(PYTHON).parent / "mse-lint",
        help="mse-lint executable (default: next to this interpreter)",
    )
    parser.add_argument(
        "--install-peers", action="store_true", help="pip-install missing peers here"
    )
    parser.add_argument("--cache-dir", type=Path, default=BENCH_DIR / ".corpus")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="TOOL",
        help="leave a tool out (e.g. --skip semgrep); its ratios and targets show n/a",
    )
    parser.add_argument(
        "--corpus",
        action="append",
        choices=["django", "examples", "one-file"],
        help="only these corpora (default: all three)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the results as markdown here")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def available_peers(
    candidates: list[Tool], install: bool, skip: list[str]
) -> tuple[list[Tool], dict[str, str]]:
    found, versions = [], {}
    for peer in candidates:
        if peer.name in skip:
            continue
        version = ensure_peer(peer, install)
        if version is None:
            hint = f"pip install {peer.requirement}" if peer.requirement else "see its docs"
            print(
                f"note: {peer.name} is not available; install it with `{hint}` or --install-peers"
            )
            continue
        found.append(peer)
        versions[peer.family or peer.name] = version
    return found, versions


def build_targets(results: list[Series]) -> list[Target]:
    """Issue 8's targets, every one from this run's medians."""
    one_file = find_series(results, "mse-lint", "one-file")
    warm = find_series(results, "mse-lint warm", "django")
    rss = [
        s.peak_rss_mib
        for s in results
        if s.corpus == "django" and s.tool.startswith("mse-lint") and s.peak_rss_mib is not None
    ]
    return [
        Target("Django cold: mse-lint / bandit", ratio(results, "django", "bandit"), 0.15, "x"),
        Target(
            "Django cold: mse-lint / ruff S --no-cache", ratio(results, "django", "ruff S"), 10, "x"
        ),
        Target("Django warm: mse-lint", warm.median if warm else None, 0.3, " s"),
        Target(
            "Django warm: mse-lint / ruff S warm",
            ratio(results, "django", "ruff S warm", "mse-lint warm"),
            4,
            "x",
        ),
        Target("one file: mse-lint / bandit", ratio(results, "one-file", "bandit"), 0.5, "x"),
        Target("one file: mse-lint", one_file.median if one_file else None, 0.2, " s"),
        Target("Django: mse-lint peak RSS", max(rss) if rss else None, 200, " MiB"),
    ]


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mse-lint-bench-") as tmp:
        return run(args, Path(tmp))


def run(args: argparse.Namespace, scratch: Path) -> int:
    ours = [t for t in mse_lint_tools(args.mse_lint, scratch) if t.name not in args.skip]
    version = tool_version(ours[0]) if ours else None
    if version is None:
        print(f"error: cannot run mse-lint at {args.mse_lint}; pass --mse-lint PATH")
        return 2
    found, versions = available_peers(peers(scratch), args.install_peers, args.skip)
    versions = {"mse-lint": version, **versions}
    tools = [*ours, *found]

    wanted = args.corpus or ["django", "examples", "one-file"]
    corpora: list[Corpus] = []
    if "django" in wanted:
        try:
            corpora.append(django_corpus(args.cache_dir))
        except (subprocess.CalledProcessError, RuntimeError, OSError, tarfile.TarError) as exc:
            print(f"error: cannot get the Django corpus: {exc}")
            return 2
    examples = examples_corpus() if "examples" in wanted else None
    corpora += [examples] if examples else []
    if "one-file" in wanted:
        corpora.append(one_file_corpus(scratch))

    results: list[Series] = []
    try:
        for corpus in corpora:
            results += bench_corpus(tools, corpus, args.runs, scratch)
    except ToolCrash as exc:
        print(f"error: {exc}")
        return 2

    rows = table_rows(results)
    targets = build_targets(results)
    print()
    print("\n".join(machine_lines(versions, args.runs)))
    print()
    print(text_table(rows))
    print()
    for target in targets:
        print(target.line())
    if args.markdown:
        write_markdown(args.markdown, rows, targets, versions, args.runs)
        print(f"\nwrote {args.markdown}")
    return 0 if all(t.passed for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
