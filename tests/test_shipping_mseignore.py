""".mseignore lines read two ways (MSE501) and .mseignore files mse-cli never reads (MSE502).

One test per row of platform/MSE.md's `.mseignore` table, each asserting the exact message;
the rows whose meaning is the same for gitignore and mse-cli assert that nothing fires.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Span
from mse_lint.core.settings import Settings
from mse_lint.pipeline.runner import lint

TOML = (
    'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "/"\n'
    '[cloud]\ncode = "mse_src"\n'
)
APP = "app = None\n"
SLASH = (
    "matches nothing: mse-cli compares each line with file and folder names, never with paths, "
    "and a name never contains `/`"
)
BACKSLASH = (
    "does not escape anything: mse-cli has no escapes, the backslash is a character of the "
    "name to match"
)
TRAILING = (
    "ends with whitespace, which mse-cli keeps as part of the pattern: it matches no name that "
    "lacks it"
)


def make(tmp_path: Path, mseignore: Optional[str], files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mse.toml").write_text(TOML)
    for rel, text in {"mse_src/app.py": APP, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if mseignore is not None:
        (root / "mse_src" / ".mseignore").write_text(mseignore)
    return root


def found(catalog: Catalog, root: Path, rule: str = "MSE501") -> list[Diagnostic]:
    outcome = lint([root], catalog, Settings(), cwd=root)
    return [d for d in outcome.diagnostics if d.rule == rule]


def one(catalog: Catalog, root: Path, line: int = 1) -> str:
    [d] = found(catalog, root)
    assert d.path == "mse_src/.mseignore"
    assert d.span.line == line and d.span.col == 1
    return d.message


# -- `data/`, `build/`, `__pycache__/`, `.vscode/`, `*.egg-info/`: that directory ---------------
def test_directory_line(catalog: Catalog, tmp_path: Path) -> None:
    root = make(
        tmp_path,
        "data/\n",
        {"mse_src/data/a.csv": "1", "mse_src/data/b.csv": "2", "mse_src/pkg/data/c.csv": "3"},
    )
    [d] = found(catalog, root)
    assert d.span == Span(1, 1, 1, 6)
    assert d.message == (
        f"the .mseignore line `data/` {SLASH}; so these ship anyway: mse_src/data/a.csv, "
        "mse_src/data/b.csv, mse_src/pkg/data/c.csv; write `data` instead (it matches that name "
        "at every depth)"
    )


def test_directory_line_lists_at_most_three(catalog: Catalog, tmp_path: Path) -> None:
    files = {f"mse_src/__pycache__/m{i}.cpython-310.pyc": "x" for i in range(5)}
    root = make(tmp_path, "# caches\n__pycache__/\n", files)
    assert one(catalog, root, line=2) == (
        f"the .mseignore line `__pycache__/` {SLASH}; so these ship anyway: "
        "mse_src/__pycache__/m0.cpython-310.pyc, mse_src/__pycache__/m1.cpython-310.pyc, "
        "mse_src/__pycache__/m2.cpython-310.pyc and 2 more; write `__pycache__` instead (it "
        "matches that name at every depth)"
    )


def test_hidden_directory_line(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, ".vscode/\n", {"mse_src/.vscode/settings.json": "{}"})
    assert one(catalog, root) == (
        f"the .mseignore line `.vscode/` {SLASH}; `.vscode` is hidden and never ships anyway: "
        "drop the line (or write `.vscode`)"
    )


def test_egg_info_line_with_nothing_there_yet(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, "*.egg-info/\n", {})
    assert one(catalog, root) == (
        f"the .mseignore line `*.egg-info/` {SLASH}; write `*.egg-info` instead (it matches "
        "that name at every depth)"
    )


def test_build_line_that_would_also_exclude_a_package(catalog: Catalog, tmp_path: Path) -> None:
    files = {"mse_src/build/out.bin": "x", "mse_src/tools/build.py": "X = 1\n"}
    root = make(tmp_path, "build/\n", files)
    assert one(catalog, root) == (
        f"the .mseignore line `build/` {SLASH}; so these ship anyway: mse_src/build/out.bin; "
        "write `build` instead (it matches that name at every depth)"
    )


# -- `/data`, `/config.json`: only at the top ---------------------------------------------------
def test_anchored_line(catalog: Catalog, tmp_path: Path) -> None:
    files = {"mse_src/config.json": "{}", "mse_src/model/config.json": "{}"}
    root = make(tmp_path, "/config.json\n", files)
    assert one(catalog, root) == (
        f"the .mseignore line `/config.json` {SLASH}; so these ship anyway: mse_src/config.json; "
        "write `config.json` instead (it matches that name at every depth, so it would also "
        "exclude mse_src/model/config.json)"
    )


def test_anchored_folder(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, "/data\n", {"mse_src/data/a.csv": "1"})
    assert one(catalog, root) == (
        f"the .mseignore line `/data` {SLASH}; so these ship anyway: mse_src/data/a.csv; "
        "write `data` instead (it matches that name at every depth)"
    )


# -- `data/*.csv`, `logs/*.log`, `docs/*`, `src/build/`: path-scoped ----------------------------
def test_path_scoped_line(catalog: Catalog, tmp_path: Path) -> None:
    files = {"mse_src/logs/app.log": "x", "mse_src/other/keep.log": "y"}
    root = make(tmp_path, "logs/*.log\n", files)
    assert one(catalog, root) == (
        f"the .mseignore line `logs/*.log` {SLASH}; so these ship anyway: mse_src/logs/app.log; "
        "write `*.log` instead (it matches that name at every depth, so it would also exclude "
        "mse_src/other/keep.log)"
    )


def test_folder_content_line(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, "docs/*\n", {"mse_src/docs/index.md": "#"})
    assert one(catalog, root) == (
        f"the .mseignore line `docs/*` {SLASH}; so these ship anyway: mse_src/docs/index.md; "
        "write `docs` instead (it matches that name at every depth)"
    )


def test_nested_folder_line(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, "src/build/\n", {"mse_src/src/build/x.o": "x"})
    assert one(catalog, root) == (
        f"the .mseignore line `src/build/` {SLASH}; so these ship anyway: mse_src/src/build/x.o; "
        "write `build` instead (it matches that name at every depth)"
    )


# -- `**/*.csv`, `**/build`, `data/**`: recursive -----------------------------------------------
@pytest.mark.parametrize(
    ("line", "files", "ships", "instead"),
    [
        (
            "**/*.csv",
            {"mse_src/a.csv": "1", "mse_src/d/b.csv": "2"},
            "a.csv, mse_src/d/b.csv",
            "*.csv",
        ),
        ("**/build", {"mse_src/x/build/o": "1"}, "x/build/o", "build"),
        ("data/**", {"mse_src/data/a.csv": "1"}, "data/a.csv", "data"),
    ],
)
def test_recursive_lines(
    catalog: Catalog, tmp_path: Path, line: str, files: dict[str, str], ships: str, instead: str
) -> None:
    root = make(tmp_path, line + "\n", files)
    assert one(catalog, root) == (
        f"the .mseignore line `{line}` {SLASH}; so these ship anyway: mse_src/{ships}; "
        f"write `{instead}` instead (it matches that name at every depth)"
    )


# -- `config.json`, `*.csv`, `secrets.json`: same meaning, any depth -----------------------------
def test_name_lines_are_not_reported(catalog: Catalog, tmp_path: Path) -> None:
    files = {"mse_src/config.json": "{}", "mse_src/model/config.json": "{}", "mse_src/a.csv": "1"}
    root = make(tmp_path, "config.json\n*.csv\nsecrets.json\n", files)
    assert found(catalog, root) == []


# -- `!app.log` after `*.log`: not a re-include ---------------------------------------------------
def test_negation_line(catalog: Catalog, tmp_path: Path) -> None:
    files = {"mse_src/app.log": "x", "mse_src/debug.log": "y"}
    root = make(tmp_path, "*.log\n!app.log\n", files)
    assert one(catalog, root, line=2) == (
        "the .mseignore line `!app.log` is not a re-include: mse-cli has no negation, the line "
        "only excludes files literally named `!app.log`; these stay excluded: mse_src/app.log; "
        "narrow `*.log` instead, since `!` cannot bring back what it excludes"
    )


def test_negation_with_nothing_to_bring_back(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, "!app.log\n", {"mse_src/app.log": "x"})
    assert one(catalog, root) == (
        "the .mseignore line `!app.log` is not a re-include: mse-cli has no negation, the line "
        "only excludes files literally named `!app.log`; `!` cannot bring back what an earlier "
        "line excludes"
    )


# -- `\#file`, `\!file`, `a\ b.txt`: escapes ----------------------------------------------------
@pytest.mark.parametrize(
    ("line", "name", "instead"),
    [
        ("\\#file", "#file", "[#]file"),
        ("\\!file", "!file", "!file"),
        ("a\\ b.txt", "a b.txt", "a b.txt"),
    ],
)
def test_backslash_lines(
    catalog: Catalog, tmp_path: Path, line: str, name: str, instead: str
) -> None:
    root = make(tmp_path, line + "\n", {f"mse_src/{name}": "x"})
    assert one(catalog, root) == (
        f"the .mseignore line `{line}` {BACKSLASH}; so these ship anyway: mse_src/{name}; "
        f"write `{instead}` instead (it matches that name at every depth)"
    )


def test_suggested_escapes_really_exclude(catalog: Catalog, tmp_path: Path) -> None:
    """The suggestions are mse-cli patterns: with them, the files stop shipping."""
    files = {"mse_src/#file": "x", "mse_src/!file": "y", "mse_src/a b.txt": "z"}
    root = make(tmp_path, "[#]file\n!file\na b.txt\n", files)
    outcome = lint([root], catalog, Settings(), cwd=root)
    assert [d.rule for d in outcome.diagnostics if d.rule.startswith("MSE5")] == ["MSE501"]
    from mse_lint.project.model import build_manifest

    fates = {e.rel: e.fate.value for e in build_manifest(root / "mse_src").entries}
    assert fates["#file"] == fates["a b.txt"] == "excluded"
    assert fates["!file"] == "excluded"  # literal `!file`, reported as the negation it looks like


# -- `*.pyc ` (trailing space) ------------------------------------------------------------------
def test_trailing_space_line(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, "*.pyc \n", {"mse_src/x.pyc": "x"})
    [d] = found(catalog, root)
    assert d.span == Span(1, 1, 1, 7)
    assert d.message == (
        f"the .mseignore line `*.pyc ` {TRAILING}; so these ship anyway: mse_src/x.pyc; "
        "write `*.pyc` instead (it matches that name at every depth)"
    )


# -- `.env`, `.git*`, `.venv`; `requirements.txt`; `*.TXT`; `*.md  # note` -----------------------
@pytest.mark.parametrize(
    "text", [".env\n.git*\n.venv\n", "requirements.txt\n", "*.TXT\n", "*.md  # note\n"]
)
def test_lines_with_the_same_meaning(catalog: Catalog, tmp_path: Path, text: str) -> None:
    files = {"mse_src/notes.txt": "x", "mse_src/README.md": "#", "mse_src/requirements.txt": ""}
    root = make(tmp_path, text, files)
    assert found(catalog, root) == []


def test_suppression_comment_in_mseignore(catalog: Catalog, tmp_path: Path) -> None:
    """Only whole-line comments exist in .mseignore: a suppression goes on the line before."""
    text = "# mse-lint: ignore[MSE501] -- editors' folder, hidden anyway\n.vscode/\ndata/\n"
    root = make(tmp_path, text, {})
    outcome = lint([root], catalog, Settings(select=("MSE5",)), cwd=root)
    assert [(d.rule, d.span.line) for d in outcome.diagnostics] == [("MSE501", 3)]
    assert [(d.rule, d.span.line) for d in outcome.suppressed] == [("MSE501", 2)]


def test_scaffold_mseignore(catalog: Catalog) -> None:
    """The three lines of `mse cloud scaffold`'s .mseignore that never match, and only them."""
    root = Path(__file__).parent / "fixtures" / "projects" / "scaffold_cloud"
    outcome = lint([root], catalog, Settings(), cwd=root)
    shipping = [
        (d.rule, d.path, d.span.line)
        for d in outcome.diagnostics
        if d.rule.startswith(("MSE50", "MSE60"))
    ]
    assert shipping == [
        ("MSE501", "mse_src/.mseignore", 9),
        ("MSE501", "mse_src/.mseignore", 10),
        ("MSE501", "mse_src/.mseignore", 11),
    ]


# ================================================================================================
# MSE502: .mseignore files that mse-cli never reads
# ================================================================================================
def test_mseignore_next_to_mse_toml(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, None, {".mseignore": "*.csv\n# data\ndata\n"})
    [d] = found(catalog, root, "MSE502")
    assert (d.path, d.span) == (".mseignore", Span(1, 1, 1, 2))
    assert d.message == (
        ".mseignore is never read: mse-cli reads only mse_src/.mseignore, so its patterns (2) "
        "exclude nothing; move them to mse_src/.mseignore"
    )


def test_mseignore_in_a_subfolder_of_the_code_dir(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, "__pycache__\n", {"mse_src/data/.mseignore": "*.csv\n"})
    [d] = found(catalog, root, "MSE502")
    assert d.path == "mse_src/data/.mseignore"
    assert d.message == (
        "mse_src/data/.mseignore is never read: mse-cli reads only mse_src/.mseignore, so its "
        "patterns (1) exclude nothing; merge them into mse_src/.mseignore"
    )


def test_only_the_code_dir_mseignore(catalog: Catalog, tmp_path: Path) -> None:
    files = {
        ".venv/lib/.mseignore": "x\n",
        ".venv/pyvenv.cfg": "",
        "node_modules/p/.mseignore": "x\n",
    }
    root = make(tmp_path, "*.csv\n", files)
    assert found(catalog, root, "MSE502") == []


def test_undecodable_mseignore_line(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, None, {})
    (root / "mse_src" / ".mseignore").write_bytes(b"caf\xe9/\n")
    msg = one(catalog, root)
    assert msg.startswith("the .mseignore line `caf\ufffd/` matches nothing")
    assert msg.endswith("write `caf\ufffd` instead (it matches that name at every depth)")
    msg.encode("utf-8")  # printable by every reporter
