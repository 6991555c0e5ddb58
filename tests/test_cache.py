"""The results cache (.mse_lint_cache/) and the compiled catalogue (rules/catalog.json):
identical results with and without the cache and for any --jobs, what invalidates an entry,
what a damaged or unwritable cache does, pruning, and the CLI switches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import complete_mse_toml, mse_lint_command

from mse_lint.core.catalog import Catalog, load_catalog
from mse_lint.core.record import replace
from mse_lint.core.settings import Settings
from mse_lint.pipeline import cache as cache_mod
from mse_lint.pipeline import engine as engine_mod
from mse_lint.pipeline.engine import Engine, RunResult
from mse_lint.pipeline.runner import lint

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
CORPORA = [
    FIXTURES,
    REPO / "examples" / "report-service",
    *sorted(p for p in (FIXTURES / "projects").iterdir() if p.is_dir()),
]


def outcome(result: RunResult) -> tuple[Any, ...]:
    return (
        result.diagnostics,
        result.suppressed,
        [(n.message, n.path, n.line) for n in result.notices],
        result.files_checked,
        result.files_unreadable,
    )


def all_rules(catalog: Catalog, **changes: Any) -> Settings:
    # every rule, those off by default too: the widest result to compare
    return replace(Settings(select=tuple(sorted(catalog.rules))), **changes)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MSE_LINT_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def parallel_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small corpora use the process pool too when jobs > 1."""
    monkeypatch.setattr(engine_mod, "_PARALLEL_MIN_FILES", 2)


def no_checking(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run after this must be served from the cache alone."""

    def fail(self: Engine, job: Any, data: bytes) -> None:
        raise AssertionError(f"{job.display} was checked again")

    monkeypatch.setattr(Engine, "check_data", fail)


@pytest.mark.parametrize("corpus", CORPORA, ids=lambda p: p.relative_to(REPO).as_posix())
def test_identical_with_and_without_cache_and_for_any_jobs(
    corpus: Path,
    catalog: Catalog,
    cache_dir: Path,
    parallel_always: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cwd = corpus.parent
    reference = outcome(lint([corpus], catalog, all_rules(catalog, cache=False, jobs=1), cwd))
    assert reference[3] > 0
    for jobs in (2, 1):
        uncached = lint([corpus], catalog, all_rules(catalog, cache=False, jobs=jobs), cwd)
        assert outcome(uncached) == reference, f"--no-cache --jobs {jobs}"
    cold = lint([corpus], catalog, all_rules(catalog, jobs=2), cwd)  # fills the cache
    assert outcome(cold) == reference
    assert list((cache_dir / "v1").glob("*.json"))
    with monkeypatch.context() as m:
        no_checking(m)
        for jobs in (1, 2):
            warm = lint([corpus], catalog, all_rules(catalog, jobs=jobs), cwd)
            assert outcome(warm) == reference, f"warm --jobs {jobs}"


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "mse.toml").write_text(complete_mse_toml(code="src"))
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


APP = (
    "import subprocess\n"
    "from flask import Flask\n"
    "app = Flask(__name__)\n"
    "subprocess.run(['ls'])  # mse-lint: ignore[MSE101]\n"
    "@app.get('/')\n"
    "def health():\n"
    "    return 'ok'\n"
)


def rules(result: RunResult) -> list[tuple[str, str, int]]:
    return [(d.rule, d.path, d.span.line) for d in result.diagnostics]


def test_cache_lives_in_the_project_root_and_ignores_itself(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MSE_LINT_CACHE_DIR")
    root = project(tmp_path, {"src/app.py": APP})
    lint([root / "src"], catalog, Settings(), cwd=tmp_path)
    folder = root / ".mse_lint_cache"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert len(list((folder / "v1").glob("*.json"))) == 1
    # the cache folder is hidden from the manifest's point of view: the second run hits
    no_checking(monkeypatch)
    lint([root / "src"], catalog, Settings(), cwd=tmp_path)


def test_no_mse_toml_puts_the_cache_in_the_current_directory(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MSE_LINT_CACHE_DIR")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.py").write_text("import os\nos.fork()\n")
    lint([tmp_path / "lib"], catalog, Settings(), cwd=tmp_path)
    assert (tmp_path / ".mse_lint_cache" / ".gitignore").is_file()
    assert not (tmp_path / "lib" / ".mse_lint_cache").exists()


def test_what_invalidates_an_entry(tmp_path: Path, catalog: Catalog, cache_dir: Path) -> None:
    root = project(tmp_path, {"src/app.py": APP})
    first = lint([root], catalog, Settings(), cwd=root)
    assert [r for r, _, _ in rules(first)] == []
    assert [d.rule for d in first.suppressed] == ["MSE101"]

    # content: the suppression goes, the finding comes back
    (root / "src" / "app.py").write_text(APP.replace("  # mse-lint: ignore[MSE101]", ""))
    second = lint([root], catalog, Settings(), cwd=root)
    assert ("MSE101", "src/app.py", 4) in rules(second)

    # settings: MSE003 now reports the suppression that covers nothing
    (root / "src" / "app.py").write_text("x = 1  # mse-lint: ignore[MSE101]\n" + APP)
    plain = lint([root], catalog, Settings(), cwd=root)
    assert ("MSE003", "src/app.py", 1) not in rules(plain)
    strict = lint([root], catalog, Settings(extend_select=("MSE003",)), cwd=root)
    assert ("MSE003", "src/app.py", 1) in rules(strict)
    # a severity override changes the cached severity too
    from mse_lint.core.diagnostics import Severity

    (root / "src" / "app.py").write_text(APP.replace("  # mse-lint: ignore[MSE101]", ""))
    info = lint([root], catalog, Settings(severity={"MSE101": Severity.INFO}), cwd=root)
    assert {d.severity for d in info.diagnostics if d.rule == "MSE101"} == {Severity.INFO}
    # target Python
    bundles = set((cache_dir / "v1").glob("*.json"))
    lint([root], catalog, Settings(target_python=(3, 12)), cwd=root)
    assert len(set((cache_dir / "v1").glob("*.json")) - bundles) == 1


def test_project_facts_are_part_of_the_key(
    tmp_path: Path, catalog: Catalog, cache_dir: Path
) -> None:
    root = project(tmp_path, {"src/app.py": APP, "src/data.txt": "x"})
    lint([root], catalog, Settings(), cwd=root)
    (root / "src" / ".mseignore").write_text("data.txt\n")  # a fact: data.txt stops shipping
    lint([root], catalog, Settings(), cwd=root)
    assert len(list((cache_dir / "v1").glob("*.json"))) == 2


def test_damaged_cache_is_ignored(
    tmp_path: Path, catalog: Catalog, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, {"src/app.py": APP.replace("  # mse-lint: ignore[MSE101]", "")})
    expected = rules(lint([root], catalog, Settings(), cwd=root))
    (bundle,) = (cache_dir / "v1").glob("*.json")
    doc = json.loads(bundle.read_text())
    for key in doc["entries"]:
        doc["entries"][key][1] = [["not", "a", "diagnostic"], [], [], True]
    bundle.write_text(json.dumps(doc))
    assert rules(lint([root], catalog, Settings(), cwd=root)) == expected
    bundle.write_text('{"format": "v1", "entries": {')  # truncated
    assert rules(lint([root], catalog, Settings(), cwd=root)) == expected
    bundle.write_bytes(b"\x80\x04\x95 not json")
    assert rules(lint([root], catalog, Settings(), cwd=root)) == expected
    json.loads(bundle.read_text())  # rewritten whole


def test_unwritable_cache_never_fails_the_run(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("MSE_LINT_CACHE_DIR", str(blocker / "cache"))  # under a regular file
    root = project(tmp_path, {"src/app.py": APP.replace("  # mse-lint: ignore[MSE101]", "")})
    assert ("MSE101", "src/app.py", 4) in rules(lint([root], catalog, Settings(), cwd=root))
    assert blocker.is_file()


def entry_rules(catalog: Catalog) -> cache_mod.EntryRules:
    settings = Settings()
    return cache_mod.EntryRules(catalog, settings.enabled(catalog), settings.severity_of)


KEY, OTHER_KEY = "0" * 32, "1" * 32  # bundle names are 32 hex digits


def test_concurrent_writers_leave_a_whole_bundle(tmp_path: Path, catalog: Catalog) -> None:
    rules = entry_rules(catalog)
    a = cache_mod.ResultCache(tmp_path / "c", KEY, rules)
    b = cache_mod.ResultCache(tmp_path / "c", KEY, rules)
    a.put("one", cache_mod.encode([], [], [], True))
    b.put("two", cache_mod.encode([], [], [], True))
    a.save()
    b.save()  # the last writer wins; nothing is half-written
    c = cache_mod.ResultCache(tmp_path / "c", KEY, rules)
    assert c.get("two", "x.py", b"") == ([], [], [], True, [])
    assert c.get("one", "x.py", b"") is None
    assert [p.name for p in (tmp_path / "c" / "v1").iterdir()] == [f"{KEY}.json"]


def test_pruning(tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = entry_rules(catalog)
    folder = tmp_path / "c"
    old = cache_mod.ResultCache(folder, OTHER_KEY, rules)
    old.put("x", cache_mod.encode([], [], [], True))
    old.save()
    month = (cache_mod.MAX_AGE_DAYS + 1) * 86400
    os.utime(old.path, (time.time() - month, time.time() - month))

    current = cache_mod.ResultCache(folder, KEY, rules)
    current.put("fresh", cache_mod.encode([], [], [], True))
    current.put("stale", cache_mod.encode([], [], [], True))
    current._entries["stale"][0] -= cache_mod.MAX_AGE_DAYS + 1
    monkeypatch.setattr(cache_mod, "MAX_ENTRIES", 1)
    current.save()
    assert not old.path.exists()  # a bundle unused for a month is deleted
    again = cache_mod.ResultCache(folder, KEY, rules)
    assert len(again) == 1 and again.get("fresh", "x.py", b"") is not None


def test_compiled_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalogue is read from its compiled copy while that matches the TOML; an edited
    TOML file, or a damaged copy, makes the run parse the TOML (never a stale catalogue)."""
    from mse_lint.core.catalog import COMPILED, write_compiled

    rules_dir = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules_dir)
    (rules_dir / COMPILED).unlink()
    parsed = load_catalog(rules_dir)  # no compiled copy: the TOML
    assert write_compiled(rules_dir) == rules_dir / COMPILED

    toml_mod: Any = pytest.importorskip("tomllib")

    def no_toml(*_: object) -> None:
        raise AssertionError("TOML parsed")

    with monkeypatch.context() as m:
        m.setattr(toml_mod, "loads", no_toml)
        compiled = load_catalog(rules_dir)
    assert compiled == parsed and compiled.fingerprint == parsed.fingerprint != ""

    core = rules_dir / "core.toml"
    core.write_text(core.read_text().replace('severity = "error"', 'severity = "warning"', 1))
    edited = load_catalog(rules_dir)
    assert edited.fingerprint != parsed.fingerprint and edited != parsed
    (rules_dir / COMPILED).write_text("{broken")
    assert load_catalog(rules_dir) == edited
    write_compiled(rules_dir)
    with monkeypatch.context() as m:
        m.setattr(toml_mod, "loads", no_toml)
        assert load_catalog(rules_dir) == edited


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mse_lint_command(), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_cli_no_cache_and_config_key(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": APP.replace("  # mse-lint: ignore[MSE101]", "")})
    env = {k: v for k, v in os.environ.items() if k != "MSE_LINT_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    off = run_cli([".", "--no-cache", "--format", "json"], root, env)
    assert off.returncode == 1, off.stderr
    assert not (root / ".mse_lint_cache").exists()
    assert not (tmp_path / "xdg").exists()

    (root / "mse-lint.toml").write_text("cache = false\n")
    assert run_cli([".", "--format", "json"], root, env).stdout == off.stdout
    assert not (root / ".mse_lint_cache").exists()

    (root / "mse-lint.toml").write_text("cache = 0\n")
    bad = run_cli(["."], root, env)
    assert bad.returncode == 2 and "`cache` must be true or false" in bad.stderr

    (root / "mse-lint.toml").unlink()
    cold = run_cli([".", "--format", "json"], root, env)
    warm = run_cli([".", "--format", "json"], root, env)
    assert cold.stdout == warm.stdout == off.stdout
    assert (root / ".mse_lint_cache" / ".gitignore").is_file()
    assert not (tmp_path / "xdg").exists()  # nothing goes to the user's cache folder
