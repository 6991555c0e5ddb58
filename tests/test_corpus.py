"""Real code at scale (marked ``slow``; ``.ci/run`` runs them on a sample): the standard library
of the running interpreter (bad syntax and odd encodings included), Django 5.1 and 20 popular
PyPI sdists. Every rule enabled; zero crashes; what does not parse is MSE001 / MSE002.

Sample sizes per corpus are below; ``MSE_LINT_CORPUS=full`` checks every file (minutes). The
sdists are downloaded once with ``pip download --no-deps --no-binary`` into benchmarks/.corpus
(gitignored, shared with the benchmark) and skipped with the reason when PyPI is out of reach."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import sysconfig
import tarfile
import traceback
import warnings
from pathlib import Path
from typing import Optional

import pytest

from mse_lint.checks import ProjectInfo
from mse_lint.core.catalog import load_catalog
from mse_lint.core.settings import Settings
from mse_lint.pipeline.engine import Engine, FileJob

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".corpus"
FULL = os.environ.get("MSE_LINT_CORPUS", "") == "full"
SAMPLE = {"stdlib": 600, "django": 250, "pypi": 20}  # files (pypi: per sdist)
DJANGO = "Django==5.1.15"
PYPI = [
    "requests==2.34.2",
    "flask==3.1.3",
    "jinja2==3.1.6",
    "click==8.5.1",
    "werkzeug==3.1.9",
    "attrs==26.1.0",
    "packaging==26.3",
    "idna==3.20",
    "urllib3==2.8.0",
    "pyyaml==6.0.3",
    "python-dateutil==4.0.0",
    "six==1.17.0",
    "sqlalchemy==2.1.9",
    "starlette==1.10.0",
    "fastapi==0.163.2",
    "rich==15.0.0",
    "pytest==9.2.0",
    "pydantic==2.14.3",
    "charset-normalizer==3.5.2",
    "itsdangerous==2.2.0",
]
CATALOG = load_catalog()
EVERY_RULE = Settings(select=tuple(CATALOG.rules))


def sample(files: list[Path], n: int, must: tuple[Path, ...] = ()) -> list[Path]:
    """Every k-th file of the sorted list (spread over the whole tree, the same every run),
    plus the ``must`` files."""
    files = sorted(files)
    if FULL or len(files) <= n:
        return files
    step = len(files) / n
    picked = {files[int(i * step)] for i in range(n)}
    return sorted(picked | set(must))


def python_compiles(path: Path) -> bool:
    """What CPython says of the file: its bytes compile (encoding declaration honoured)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(path.read_bytes(), str(path), "exec", ast.PyCF_ONLY_AST)
        except (SyntaxError, ValueError):
            return False
        except (RecursionError, MemoryError):
            return True  # too deep for this stack, not invalid
    return True


class Tally:
    def __init__(self, name: str) -> None:
        self.name = name
        self.files = 0
        self.crashes: list[str] = []
        self.unparsable: dict[str, set[str]] = {}  # display path -> MSE001/MSE002
        self.findings = 0


def check_corpus(
    name: str, base: Path, files: list[Path], info: Optional[ProjectInfo] = None
) -> Tally:
    engine = Engine(CATALOG, EVERY_RULE, info=info)
    tally = Tally(name)
    for path in files:
        display = path.relative_to(base).as_posix()
        tally.files += 1
        try:
            result = engine.check_file(FileJob(str(path), display))
        except Exception:
            tally.crashes.append(f"{display}: {traceback.format_exc(limit=-3)}")
            continue
        tally.findings += len(result.diagnostics)
        bad = {d.rule for d in result.diagnostics if d.rule in ("MSE001", "MSE002")}
        if bad:
            tally.unparsable[display] = bad
        # the engine agrees with CPython on what does not parse
        if result.checked:
            assert bool(bad) != python_compiles(path), (display, bad)
    sys.stderr.write(
        f"\ncorpus {name}: {tally.files} files, {tally.findings} findings, "
        f"{len(tally.unparsable)} unparsable, {len(tally.crashes)} crashes\n"
    )
    return tally


# -- the standard library -------------------------------------------------------------------------
STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Files of the standard library's own tests that are broken on purpose
KNOWN_BAD = {
    "lib2to3/tests/data/py2_test_grammar.py": "MSE001",
    "lib2to3/tests/data/bom.py": "MSE001",  # a BOM, then Python 2's print statement
    "lib2to3/tests/data/crlf.py": "MSE001",
    "lib2to3/tests/data/false_encoding.py": "MSE001",
    "lib2to3/tests/data/different_encoding.py": "MSE001",
    "test/bad_coding.py": "MSE002",
    "test/bad_coding2.py": "MSE002",
    "test/badsyntax_3131.py": "MSE001",
    "test/badsyntax_pep3120.py": "MSE002",
    "test/badsyntax_future3.py": None,  # parses; only the compiler rejects it
    "test/encoded_modules/module_koi8_r.py": None,  # declared koi8-r, and it is
    "test/tokenizedata/bad_coding.py": "MSE002",
    "test/tokenizedata/bad_coding2.py": "MSE002",  # a BOM, then `coding: utf8`
    "test/tokenizedata/badsyntax_3131.py": "MSE001",
    "test/tokenizedata/badsyntax_pep3120.py": "MSE002",
    "test/tokenizedata/coding20731.py": None,
}


def _stdlib_files() -> list[Path]:
    return [
        p
        for p in STDLIB.rglob("*.py")
        if "site-packages" not in p.parts and "dist-packages" not in p.parts
    ]


def test_standard_library() -> None:
    files = _stdlib_files()
    present = tuple(STDLIB / rel for rel in KNOWN_BAD if (STDLIB / rel).is_file())
    assert present, f"none of the known bad files in {STDLIB}"
    tally = check_corpus("stdlib", STDLIB, sample(files, SAMPLE["stdlib"], present))
    assert tally.crashes == []
    for rel, rule in KNOWN_BAD.items():
        if not (STDLIB / rel).is_file():
            continue
        got = tally.unparsable.get(rel, set())
        assert got == ({rule} if rule else set()), rel
    assert tally.files >= min(len(files), SAMPLE["stdlib"])


# -- sdists ------------------------------------------------------------------------------------
def _download(specs: list[str], dest: Path) -> None:
    """Fetch the sdists that are not cached yet; skip the test when PyPI is out of reach."""
    dest.mkdir(parents=True, exist_ok=True)
    missing = [s for s in specs if _archive(s, dest) is None]
    if not missing:
        return
    names = ",".join(s.split("==")[0] for s in missing)
    # --no-binary for these packages only: their build backends (needed by pip to read the
    # sdist's metadata) may come as wheels, which takes seconds instead of building them too
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", names]
    argv += ["-q", "--disable-pip-version-check", "-d", str(dest), *missing]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        if any(
            w in proc.stderr
            for w in (
                "NewConnectionError",
                "Network is unreachable",
                "Temporary failure in name resolution",
                "timed out",
            )
        ):
            pytest.skip(f"PyPI is out of reach: {reason}")
        pytest.fail(f"pip download failed: {reason}")


def _archive(spec: str, dest: Path) -> Optional[Path]:
    name, version = spec.split("==")
    norm = name.lower().replace("-", "_")
    for p in dest.glob("*.tar.gz"):
        stem = p.name[: -len(".tar.gz")]
        if stem.lower().replace("-", "_") == f"{norm}_{version}":
            return p
    return None


def _extract(archive: Path) -> Path:
    folder = archive.parent / archive.name[: -len(".tar.gz")]
    if not folder.is_dir():
        with tarfile.open(archive) as tar:
            if sys.version_info >= (3, 12):
                tar.extractall(archive.parent, filter="data")
            else:  # an sdist pip just downloaded from PyPI
                tar.extractall(archive.parent)
    # some archives name their top folder differently from the file
    if not folder.is_dir():
        candidates = [
            p
            for p in archive.parent.iterdir()
            if p.is_dir()
            and p.name.lower().replace("-", "_") == folder.name.lower().replace("-", "_")
        ]
        assert candidates, archive
        folder = candidates[0]
    return folder


def test_django() -> None:
    _download([DJANGO], CACHE)
    archive = _archive(DJANGO, CACHE)
    assert archive is not None
    folder = _extract(archive)
    files = sorted((folder / "django").rglob("*.py"))
    assert len(files) > 800
    tally = check_corpus("django", folder, sample(files, SAMPLE["django"]))
    assert tally.crashes == []
    # Django's templates for new projects hold `{{ }}` placeholders: they do not parse
    assert all(rules == {"MSE001"} for rules in tally.unparsable.values())


def test_popular_pypi_sdists() -> None:
    dest = CACHE / "pypi"
    _download(PYPI, dest)
    total = crashes = 0
    for spec in PYPI:
        archive = _archive(spec, dest)
        assert archive is not None, spec
        folder = _extract(archive)
        files = sorted(folder.rglob("*.py"))
        assert files, spec
        tally = check_corpus(spec, folder, sample(files, SAMPLE["pypi"]))
        total += tally.files
        crashes += len(tally.crashes)
        assert tally.crashes == [], tally.crashes[:3]
    sys.stderr.write(f"\ncorpus pypi: {len(PYPI)} sdists, {total} files, {crashes} crashes\n")


def test_cli_over_a_corpus_exits_cleanly(tmp_path: Path) -> None:
    """The whole pipeline (file listing, worker processes, every output format) over the
    standard library sample: exit 0 or 1, never 2, no traceback."""
    from helpers import mse_lint_command
    from test_robustness import output_formats

    target = STDLIB / "email"
    for fmt in output_formats():
        proc = subprocess.run(
            [
                *mse_lint_command(),
                str(target),
                "--isolated",
                "--format",
                fmt,
                "--jobs",
                "2",
                "--select",
                ",".join(CATALOG.rules),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
