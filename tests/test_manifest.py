"""What ships from the code dir: ``mse_lint.project.model`` against mse-cli's real mechanism.

Every row of the platform notes' table (MSE.md, "What ships: `.mseignore` as actually
applied") has a test asserting the exact fate of specific files, and every such tree is
also pushed through the REAL mechanism (``shutil.copytree`` with ``shutil.ignore_patterns``, then
mse-cli's tar listing that leaves out hidden paths, then mse-lib-crypto's ``requirements.txt``
exception) to prove that the model and mse-cli agree file by file.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Optional, Union

import pytest
from helpers import mse_lint_command

from mse_lint.project.model import Fate, Manifest, build_manifest, discover, fate_of, read_mseignore

E, C, H = Fate.ENCRYPTED, Fate.CLEAR, Fate.HIDDEN
Expected = Union[Fate, tuple[Fate, str]]  # a fate, or (EXCLUDED, the pattern that excluded it)


def X(pattern: str) -> tuple[Fate, str]:
    """Excluded by ``pattern`` (a capital, to read like the table)."""
    return (Fate.EXCLUDED, pattern)


needs_symlinks = pytest.mark.skipif(
    not hasattr(os, "symlink") or sys.platform == "win32", reason="POSIX symlinks needed"
)


# ------------------------------------------------------------------------------------------------
# helpers
def write_tree(root: Path, files: dict[str, Union[str, bytes]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def make_code(tmp_path: Path, mseignore: Optional[Union[str, bytes]], files: list[str]) -> Path:
    """A code dir holding ``files`` (each naming itself inside) and the given ``.mseignore``."""
    tree: dict[str, Union[str, bytes]] = {rel: f"content of {rel}\n" for rel in files}
    if mseignore is not None:
        tree[".mseignore"] = mseignore
    return write_tree(tmp_path / "code", tree)


def fates(manifest: Manifest) -> dict[str, Expected]:
    return {
        e.rel: X(e.pattern or "") if e.fate is Fate.EXCLUDED else e.fate for e in manifest.entries
    }


def mse_cli_patterns(code: Path) -> set[str]:
    """mse-cli 1.3 ``IgnoreFile.parse``, line for line (utf-8: the locale of the test run)."""
    ignore_file = code / ".mseignore"
    if not ignore_file.exists():
        return set()
    return {
        line
        for line in ignore_file.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    }


def real_copy(code: Path, out: Path) -> Optional[shutil.Error]:
    """mse-lib-crypto 1.4 ``encrypt_directory``'s copy step; the copy error, if any."""
    try:
        shutil.copytree(code, out, ignore=shutil.ignore_patterns(*mse_cli_patterns(code)))
    except shutil.Error as exc:
        return exc
    return None


def real_ship(code: Path, out: Path) -> tuple[set[str], set[str]]:
    """What the REAL mechanism puts in the tarball: (encrypted files, clear-text files).

    ``shutil.copytree(code, out, ignore=shutil.ignore_patterns(*patterns))`` as mse-lib-crypto
    does, then mse-cli's ``fs.ls``: ``rglob("*")`` of the copy, files only, no path with a
    component starting with "."; ``requirements.txt`` (by name) is the one encryption exception.
    """
    error = real_copy(code, out)
    assert error is None, f"the real copy failed: {error}"
    encrypted: set[str] = set()
    clear: set[str] = set()
    for path in sorted(out.absolute().rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(out.absolute())
        if any(part.startswith(".") for part in rel.parts):
            continue
        (clear if path.name == "requirements.txt" else encrypted).add(rel.as_posix())
    return encrypted, clear


def model_ship(manifest: Manifest) -> tuple[set[str], set[str]]:
    encrypted = {e.rel for e in manifest.entries if e.fate is Fate.ENCRYPTED}
    clear = {e.rel for e in manifest.entries if e.fate is Fate.CLEAR}
    return encrypted, clear


def assert_same_as_mse_cli(code: Path, out: Path) -> Manifest:
    """The model's shipped files equal the real mechanism's, expanded or not."""
    manifest = build_manifest(code)
    assert model_ship(manifest) == real_ship(code, out)
    collapsed = build_manifest(code, expand=False)
    assert {e.rel for e in collapsed.shipped()} == {e.rel for e in manifest.shipped()}
    assert set(manifest.patterns) == mse_cli_patterns(code)
    return manifest


# ------------------------------------------------------------------------------------------------
# the MSE.md table, row by row: (.mseignore, files, the fate of each file)
TABLE: list[tuple[str, Union[str, bytes], dict[str, Expected]]] = [
    (
        "trailing-slash-dirs-do-nothing",
        "data/\nbuild/\n__pycache__/\n.vscode/\n*.egg-info/\n",
        {
            "data/train.csv": E,
            "build/lib/mod.py": E,
            "__pycache__/app.cpython-310.pyc": E,
            "pkg/__pycache__/mod.cpython-310.pyc": E,
            ".vscode/settings.json": H,
            "mypkg.egg-info/PKG-INFO": E,
            "app.py": E,
        },
    ),
    (
        "bare-dir-name-excludes-at-every-depth",
        "__pycache__\nbuild\n",
        {
            "__pycache__/app.cpython-310.pyc": X("__pycache__"),
            "pkg/__pycache__/mod.cpython-310.pyc": X("__pycache__"),
            "build/lib/mod.py": X("build"),
            "src/build/out.py": X("build"),
            "builder.py": E,
        },
    ),
    (
        "leading-slash-anchors-nothing",
        "/data\n/config.json\n",
        {"data/train.csv": E, "config.json": E, "sub/config.json": E},
    ),
    (
        "path-scoped-patterns-do-nothing",
        "data/*.csv\nlogs/*.log\ndocs/*\nsrc/build/\n",
        {
            "data/train.csv": E,
            "logs/app.log": E,
            "docs/index.md": E,
            "src/build/out.py": E,
            "train.csv": E,
        },
    ),
    (
        "double-star-does-nothing",
        "**/*.csv\n**/build\ndata/**\n",
        {
            "top.csv": E,
            "data/deep/b.csv": E,
            "data/z.txt": E,
            "build/x.py": E,
            "src/build/y.py": E,
        },
    ),
    (
        "basename-patterns-match-at-any-depth",
        "config.json\n*.csv\nsecrets.json\n",
        {
            "config.json": X("config.json"),
            "models/bert/config.json": X("config.json"),  # the model's own config: gone
            "models/bert/pytorch_model.bin": E,
            "config.json.bak": E,
            "train.csv": X("*.csv"),
            "data/2023/train.csv": X("*.csv"),
            "secrets.json": X("secrets.json"),
            "nested/deeper/secrets.json": X("secrets.json"),
            "secrets.json.example": E,
            "app.py": E,
        },
    ),
    (
        "bang-is-a-literal-name-not-a-re-include",
        "*.log\n!app.log\n!keep.txt\n",
        {
            "app.log": X("*.log"),  # stays excluded
            "debug.log": X("*.log"),
            "!app.log": X("*.log"),  # excluded (by both lines)
            "keep.txt": E,
            "!keep.txt": X("!keep.txt"),  # the "negation" only matches its literal name
        },
    ),
    (
        "backslash-is-literal",
        "\\#file\n\\!file\na\\ b.txt\n",
        {
            "#file": E,
            "!file": E,
            "a b.txt": E,
            "\\#file": X("\\#file"),
            "\\!file": X("\\!file"),
            "a\\ b.txt": X("a\\ b.txt"),
        },
    ),
    (
        "trailing-and-leading-spaces-are-kept",
        "*.pyc \n  secrets.json\n",
        {
            "mod.pyc": E,
            "pkg/mod.pyc": E,
            "mod.pyc ": X("*.pyc "),  # only a name ending in a space matches
            "secrets.json": E,
            "  secrets.json": X("  secrets.json"),
        },
    ),
    (
        "hidden-patterns-are-redundant",
        ".env\n.git*\n.venv\n",
        {
            ".env": X(".env"),
            "sub/.env": X(".env"),
            ".envrc": H,  # not matched, hidden anyway
            ".gitignore": X(".git*"),
            ".git/config": X(".git*"),
            ".venv/pyvenv.cfg": X(".venv"),
            "app.py": E,
        },
    ),
    (
        "requirements-listed-is-excluded",
        "requirements.txt\n",
        {
            "requirements.txt": X("requirements.txt"),
            "sub/requirements.txt": X("requirements.txt"),
            "requirements-dev.txt": E,
        },
    ),
    (
        "case-sensitive",
        "*.TXT\n",
        {"notes.txt": E, "NOTES.TXT": X("*.TXT"), "notes.Txt": E, "docs/readme.txt": E},
    ),
    (
        "inline-comment-is-part-of-the-pattern",
        "*.md  # note\n",
        {"README.md": E, "docs/guide.md": E, "x.md  # note": X("*.md  # note")},
    ),
    (
        "comment-and-blank-lines-are-ignored",
        "# a comment\n\n   \n\t\n  # an indented comment\nsecrets.json\n#secrets2.json\n",
        {
            "secrets.json": X("secrets.json"),
            "#secrets2.json": E,
            "# a comment": E,
            "  # an indented comment": E,
            "app.py": E,
        },
    ),
    (
        "crlf-line-endings",
        b"secrets.json\r\n*.csv\r\n# comment\r\n\r\nbuild\r\n",
        {
            "secrets.json": X("secrets.json"),
            "data/a.csv": X("*.csv"),
            "build/x.py": X("build"),
            "app.py": E,
        },
    ),
    (
        "duplicate-lines",
        "*.csv\n*.csv\nsecrets.json\n*.csv\nsecrets.json\n",
        {"a.csv": X("*.csv"), "secrets.json": X("secrets.json"), "app.py": E},
    ),
    (
        "utf8-bom-glues-to-the-first-pattern",
        b"\xef\xbb\xbfsecrets.json\n*.csv\n",
        {"secrets.json": E, "a.csv": X("*.csv")},
    ),
    (
        "scaffold-mseignore",
        "# mse-cli 1.3 scaffold\nmse.toml\nsecrets.json\nsecrets_to_seal.json\n.mseignore\n"
        "__pycache__\n*.py[cod]\n.git*\n.vscode/\n.idea/\n*.egg-info/\n*.egg\n.venv\n.env\n",
        {
            "app.py": E,
            "mse.toml": X("mse.toml"),
            "secrets.json": X("secrets.json"),
            "pkg/__pycache__/m.cpython-310.pyc": X("__pycache__"),
            "pkg/m.pyo": X("*.py[cod]"),
            "pkg/m.pyx": E,
            "mypkg.egg-info/PKG-INFO": E,  # `*.egg-info/` never matches
            "dist/mypkg-1.0.egg": X("*.egg"),
            ".idea/workspace.xml": H,
            "requirements.txt": C,
        },
    ),
]


@pytest.mark.parametrize(
    ("mseignore", "expected"),
    [pytest.param(m, x, id=i) for i, m, x in TABLE],
)
def test_table_row(tmp_path: Path, mseignore: Union[str, bytes], expected: dict[str, Expected]):
    code = make_code(tmp_path, mseignore, list(expected))
    manifest = assert_same_as_mse_cli(code, tmp_path / "copy")
    got = fates(manifest)
    for rel, fate in expected.items():
        assert got[rel] == fate, rel
    # and judging one path on its own (no walk, no symlink here) gives the same fate
    for rel in expected:
        judged = fate_of(rel, manifest.patterns)
        assert (judged if judged[0] is Fate.EXCLUDED else judged[0]) == got[rel], rel


def test_patterns_are_kept_verbatim(tmp_path: Path):
    ignore = "*.pyc \n  secrets.json\n# c\n\n*.md  # note\n*.csv\n*.csv\r\nbuild\r\n"
    code = make_code(tmp_path, ignore.encode(), [])
    assert read_mseignore(code) == ("*.pyc ", "  secrets.json", "*.md  # note", "*.csv", "build")
    assert set(read_mseignore(code)) == mse_cli_patterns(code)


def test_no_mseignore_means_no_pattern(tmp_path: Path):
    code = make_code(tmp_path, None, ["app.py"])
    assert read_mseignore(code) == ()
    assert build_manifest(code).patterns == ()


def test_fnmatch_has_no_escape():
    # what the table rows above rely on, checked against the stdlib itself
    assert not fnmatch.fnmatch("#file", "\\#file")
    assert fnmatch.fnmatch("\\#file", "\\#file")
    assert not fnmatch.fnmatch("a b.txt", "a\\ b.txt")
    assert not fnmatch.fnmatch("mod.pyc", "*.pyc ")
    assert not fnmatch.fnmatch("data", "data/")
    ignore = shutil.ignore_patterns("data/", "**/*.csv", "/config.json", "*.TXT")
    assert ignore("/x", ["data", "a.csv", "config.json", "notes.txt"]) == set()


def test_requirements_without_mseignore_ship_in_clear_at_any_depth(tmp_path: Path):
    files = [
        "requirements.txt",
        "sub/requirements.txt",
        "models/bert/requirements.txt",
        "requirements.txt.bak",
        "requirements-dev.txt",
        "app.py",
    ]
    code = make_code(tmp_path, None, files)
    got = fates(assert_same_as_mse_cli(code, tmp_path / "copy"))
    assert got == {
        "requirements.txt": C,
        "sub/requirements.txt": C,
        "models/bert/requirements.txt": C,
        "requirements.txt.bak": E,
        "requirements-dev.txt": E,
        "app.py": E,
    }


def test_hidden_files_and_folders_at_depth(tmp_path: Path):
    files = [
        ".secret",
        "a/.hidden/b.py",
        "a/b/.env",
        "a/b/c.py",
        "a/.cache/deep/er/x.bin",
        "a/b/c.d/e.py",  # a dot inside a name is not hidden
    ]
    code = make_code(tmp_path, "", files)
    got = fates(assert_same_as_mse_cli(code, tmp_path / "copy"))
    assert got == {
        ".mseignore": H,
        ".secret": H,
        "a/.hidden/b.py": H,
        "a/b/.env": H,
        "a/b/c.py": E,
        "a/.cache/deep/er/x.bin": H,
        "a/b/c.d/e.py": E,
    }


def test_hidden_patterns_change_nothing_that_ships(tmp_path: Path):
    files = [".env", ".gitignore", ".git/HEAD", ".venv/pyvenv.cfg", "sub/.env", "app.py"]
    with_lines = build_manifest(make_code(tmp_path / "a", ".env\n.git*\n.venv\n", files))
    without = build_manifest(make_code(tmp_path / "b", None, files))
    assert {e.rel for e in with_lines.shipped()} == {e.rel for e in without.shipped()} == {"app.py"}


def test_mseignore_itself(tmp_path: Path):
    listed = build_manifest(make_code(tmp_path / "a", ".mseignore\n", ["app.py"]))
    assert fates(listed)[".mseignore"] == X(".mseignore")
    unlisted = build_manifest(make_code(tmp_path / "b", "*.csv\n", ["app.py"]))
    assert fates(unlisted)[".mseignore"] == H


def test_fate_of_single_paths():
    pats = ("config.json", "*.csv", "data/", "build")
    assert fate_of("models/bert/config.json", pats) == X("config.json")
    assert fate_of("data/x.csv", pats) == X("*.csv")
    assert fate_of("data/x.txt", pats) == (E, None)
    assert fate_of("src/build/x.py", pats) == X("build")
    assert fate_of("a/.x/b.py", pats) == (H, None)
    assert fate_of("sub/requirements.txt", pats) == (C, None)
    assert fate_of("requirements.txt", ("requirements.txt",)) == X("requirements.txt")
    assert fate_of("NOTES.TXT", ("*.txt",)) == (E, None)


def test_sizes_and_totals(tmp_path: Path):
    code = write_tree(
        tmp_path / "code",
        {
            ".mseignore": "*.csv\n",
            "app.py": "x" * 10,
            "requirements.txt": "flask\n",
            "big.csv": "y" * 100,
            ".env": "K=V\n",
        },
    )
    m = build_manifest(code)
    sizes = {e.rel: e.size for e in m.entries}
    assert sizes["app.py"] == 10 and sizes["big.csv"] == 100
    totals = m.totals()
    assert totals[E] == (1, 10)
    assert totals[C] == (1, 6)
    assert totals[Fate.EXCLUDED] == (1, 100)
    assert totals[H] == (2, 4 + len("*.csv\n"))


# ------------------------------------------------------------------------------------------------
# expand=False
def test_collapsed_manifest_lists_excluded_and_hidden_folders_once(tmp_path: Path):
    files = [
        "app.py",
        "__pycache__/app.cpython-310.pyc",
        "pkg/__pycache__/m.cpython-310.pyc",
        "pkg/m.py",
        ".git/HEAD",
        ".git/objects/ab/cdef",
        "data/train.csv",
        "data/raw/x.bin",
        "build/out.py",
    ]
    code = make_code(tmp_path, "__pycache__\n*.csv\nbuild\n", files)
    full = build_manifest(code, expand=True)
    collapsed = build_manifest(code, expand=False)
    assert {e.rel for e in full.entries} >= set(files)
    dirs = {e.rel: (e.fate, e.pattern) for e in collapsed.entries if e.is_dir}
    assert dirs == {
        "__pycache__": X("__pycache__"),
        "pkg/__pycache__": X("__pycache__"),
        ".git": (H, None),
        "build": X("build"),
    }
    rels = {e.rel for e in collapsed.entries}
    assert not any(
        r.startswith(("__pycache__/", ".git/", "build/", "pkg/__pycache__/")) for r in rels
    )
    assert fates(collapsed)["data/train.csv"] == X("*.csv")  # excluded files are still listed
    assert {e.rel for e in collapsed.shipped()} == {e.rel for e in full.shipped()}
    assert not any(e.is_dir for e in full.entries)
    assert collapsed.totals()[E] == full.totals()[E]


# ------------------------------------------------------------------------------------------------
# symlinks: copytree follows them
@needs_symlinks
def test_symlink_to_a_file_outside_ships_its_content(tmp_path: Path):
    outside = write_tree(tmp_path / "outside", {"shared.py": "SHARED = 1\n", "reqs.txt": "numpy\n"})
    code = make_code(tmp_path, "*.csv\n", ["app.py"])
    (code / "shared.py").symlink_to(outside / "shared.py")
    (code / "requirements.txt").symlink_to(outside / "reqs.txt")
    (code / "data.csv").symlink_to(outside / "shared.py")  # excluded by the link's own name
    (code / ".link.py").symlink_to(outside / "shared.py")  # hidden by the link's own name
    manifest = assert_same_as_mse_cli(code, tmp_path / "copy")
    by_rel = {e.rel: e for e in manifest.entries}
    shared = by_rel["shared.py"]
    assert shared.fate is E
    assert shared.link == os.path.realpath(outside / "shared.py")
    assert shared.size == len("SHARED = 1\n")
    assert by_rel["requirements.txt"].fate is C
    assert by_rel["data.csv"].fate is Fate.EXCLUDED
    assert by_rel[".link.py"].fate is H
    assert by_rel["app.py"].link is None


@needs_symlinks
def test_symlink_to_a_directory_is_followed(tmp_path: Path):
    outside = write_tree(
        tmp_path / "outside" / "models",
        {"w.bin": "weights", "config.json": "{}", ".cache/x": "c", "sub/requirements.txt": "r"},
    )
    code = make_code(tmp_path, "config.json\n", ["app.py"])
    (code / "models").symlink_to(outside, target_is_directory=True)
    manifest = assert_same_as_mse_cli(code, tmp_path / "copy")
    by_rel = {e.rel: e for e in manifest.entries}
    assert by_rel["models/w.bin"].fate is E
    assert by_rel["models/w.bin"].link == os.path.realpath(outside)
    assert by_rel["models/config.json"].fate is Fate.EXCLUDED
    assert by_rel["models/.cache/x"].fate is H
    assert by_rel["models/sub/requirements.txt"].fate is C


@needs_symlinks
def test_broken_symlink(tmp_path: Path):
    code = make_code(tmp_path, None, ["app.py"])
    (code / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    entry = {e.rel: e for e in build_manifest(code).entries}["dangling.py"]
    assert entry.fate is Fate.BROKEN_LINK
    assert not entry.fate.ships
    assert entry.link == os.path.realpath(tmp_path / "nowhere.py")
    # the real mechanism: the whole copy fails, naming the link
    error = real_copy(code, tmp_path / "copy")
    assert error is not None and "dangling.py" in str(error)


@needs_symlinks
def test_symlink_cycle_between_links_is_broken(tmp_path: Path):
    code = make_code(tmp_path, None, ["app.py"])
    (code / "a").symlink_to("b")
    (code / "b").symlink_to("a")
    got = fates(build_manifest(code))
    assert got["a"] == got["b"] == Fate.BROKEN_LINK
    assert real_copy(code, tmp_path / "copy") is not None


@needs_symlinks
def test_broken_symlink_in_a_hidden_folder_still_breaks_the_copy(tmp_path: Path):
    # copytree copies hidden folders (only the tar leaves them out): the copy fails there too
    code = make_code(tmp_path, None, ["app.py", ".venv/pyvenv.cfg"])
    (code / ".venv" / "python").symlink_to(tmp_path / "no-python")
    assert fates(build_manifest(code))[".venv/python"] == Fate.BROKEN_LINK
    assert real_copy(code, tmp_path / "copy") is not None


@needs_symlinks
def test_ignored_broken_symlinks_are_harmless(tmp_path: Path):
    # copytree never opens an ignored name, nor anything below an ignored folder
    code = make_code(tmp_path, "*.log\nskip\n", ["app.py", "skip/keep.txt"])
    (code / "old.log").symlink_to(tmp_path / "nowhere.log")
    (code / "skip" / "dangling").symlink_to(tmp_path / "nowhere")
    for expand in (True, False):
        got = fates(build_manifest(code, expand=expand))
        assert got["old.log"] == X("*.log")
        assert Fate.BROKEN_LINK not in got.values()
    assert fates(build_manifest(code))["skip/dangling"] == X("skip")
    assert_same_as_mse_cli(code, tmp_path / "copy")


def _manifest_within(code: Path, seconds: float = 20.0) -> Manifest:
    result: list[Manifest] = []
    worker = threading.Thread(target=lambda: result.append(build_manifest(code)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "build_manifest hangs on a symlink loop"
    return result[0]


@needs_symlinks
def test_symlink_loop_does_not_hang(tmp_path: Path):
    code = make_code(tmp_path, None, ["app.py", "pkg/mod.py"])
    (code / "pkg" / "up").symlink_to("..", target_is_directory=True)
    (code / "self").symlink_to(".", target_is_directory=True)
    manifest = _manifest_within(code)
    by_rel = {e.rel: e for e in manifest.entries}
    assert by_rel["pkg/up"].fate is Fate.LINK_LOOP
    assert by_rel["pkg/up"].link == os.path.realpath(code)
    assert by_rel["self"].fate is Fate.LINK_LOOP
    assert by_rel["app.py"].fate is E and by_rel["pkg/mod.py"].fate is E
    assert not any(e.rel.startswith(("self/", "pkg/up/")) for e in manifest.entries)
    # the real mechanism, on one loop only (with two, copytree's walk is exponential: it
    # follows every combination of the links down to ELOOP, i.e. it practically hangs)
    one = make_code(tmp_path / "one", None, ["app.py", "pkg/mod.py"])
    (one / "pkg" / "up").symlink_to("..", target_is_directory=True)
    assert fates(_manifest_within(one))["pkg/up"] == Fate.LINK_LOOP
    error = real_copy(one, tmp_path / "copy")
    assert error is not None and "pkg/up" in str(error)


@needs_symlinks
def test_ignored_symlink_loop_is_harmless(tmp_path: Path):
    code = make_code(tmp_path, "self\nvendor\n", ["app.py", "vendor/lib.py"])
    (code / "self").symlink_to(".", target_is_directory=True)
    (code / "vendor" / "up").symlink_to("..", target_is_directory=True)
    got = fates(_manifest_within(code))
    assert got["self"] == X("self")
    assert got["vendor/up"] == X("vendor")
    assert Fate.LINK_LOOP not in got.values()
    assert_same_as_mse_cli(code, tmp_path / "copy")


# ------------------------------------------------------------------------------------------------
# the differential test: one tree with most of the table at once, model == real mechanism
MIXED_MSEIGNORE = (
    b"\xef\xbb\xbf# mixed\r\n"  # a BOM makes this comment a pattern (matching nothing)
    b"mse.toml\n"
    b"secrets.json\r\n"
    b"config.json\n"
    b"*.csv\n"
    b"__pycache__\n"
    b"*.py[cod]\n"
    b"*.log\n"
    b"!app.log\n"
    b"\\#file\n"
    b"*.pyc \n"
    b"*.md  # note\n"
    b"*.TXT\n"
    b"data/\n"
    b"/build\n"
    b"logs/*.log\n"
    b"**/*.json\n"
    b"data/**\n"
    b".vscode/\n"
    b"*.egg-info/\n"
    b".env\n"
    b".git*\n"
    b"\n"
    b"   # indented comment\n"
    b"*.csv\n"
)
MIXED_FILES = [
    "app.py",
    "mse.toml",
    "requirements.txt",
    "secrets.json",
    "config.json",
    "settings.json",
    "models/bert/config.json",
    "models/bert/vocab.txt",
    "models/bert/requirements.txt",
    "data/train.csv",
    "data/raw/input.bin",
    "build/lib.py",
    "src/build/gen.py",
    "logs/app.log",
    "logs/readme.md",
    "!app.log",
    "#file",
    "\\#file",
    "pkg/__init__.py",
    "pkg/__pycache__/x.cpython-310.pyc",
    "pkg/mod.pyc",
    "pkg/mod.pyo",
    "NOTES.TXT",
    "notes.txt",
    "README.md",
    "x.md  # note",
    "mypkg.egg-info/PKG-INFO",
    ".vscode/settings.json",
    ".env",
    ".envrc",
    ".gitignore",
    ".git/config",
    ".venv/lib/python3.10/site-packages/flask/__init__.py",
    "pkg/.hidden/inner.py",
    "pkg/sub/.env",
    "pkg/sub/handler.py",
    "a b.txt",
    "a\\ b.txt",
]


def test_differential_model_equals_real_mechanism(tmp_path: Path):
    code = make_code(tmp_path, MIXED_MSEIGNORE, MIXED_FILES)
    if hasattr(os, "symlink") and sys.platform != "win32":
        outside = write_tree(
            tmp_path / "outside",
            {
                "util.py": "U = 1\n",
                "assets/logo.svg": "<svg/>",
                "assets/config.json": "{}",
                "assets/.DS_Store": "",
                "assets/requirements.txt": "x\n",
            },
        )
        (code / "util.py").symlink_to(outside / "util.py")
        (code / "assets").symlink_to(outside / "assets", target_is_directory=True)
        (code / "pkg" / "alias.py").symlink_to("../app.py")
    manifest = assert_same_as_mse_cli(code, tmp_path / "copy")
    encrypted, clear = model_ship(manifest)
    # a spot check that the tree exercises both sides of the table
    assert {"app.py", "settings.json", "data/train.csv"} & encrypted == {"app.py", "settings.json"}
    assert {"requirements.txt", "models/bert/requirements.txt"} <= clear
    assert "models/bert/config.json" not in encrypted
    assert {"build/lib.py", "src/build/gen.py", "notes.txt", "#file", "README.md"} <= encrypted
    assert not {"!app.log", "\\#file", "NOTES.TXT", "x.md  # note", "logs/app.log"} & encrypted
    assert "\ufeff# mixed" in manifest.patterns
    assert {e.fate for e in manifest.entries} <= {E, C, Fate.EXCLUDED, H}
    for e in manifest.entries:
        if e.link is None:
            assert fate_of(e.rel, manifest.patterns)[0].ships == e.fate.ships, e.rel


def test_differential_without_mseignore(tmp_path: Path):
    code = make_code(tmp_path, None, MIXED_FILES)
    manifest = assert_same_as_mse_cli(code, tmp_path / "copy")
    assert manifest.patterns == ()
    assert "secrets.json" in {e.rel for e in manifest.shipped()}


# ------------------------------------------------------------------------------------------------
# discovery
def make_project(root: Path, toml: str, files: dict[str, str]) -> Path:
    write_tree(root, {"mse.toml": toml, **files})
    (root / ".git").mkdir(exist_ok=True)  # stop the upward search at the project
    return root


def test_discover_1x_cloud_code(tmp_path: Path):
    proj = make_project(
        tmp_path / "proj",
        'name = "demo"\npython_application = "app:app"\n[cloud]\ncode = "mse_src"\n',
        {"mse_src/app.py": "app = None\n", "app.py": "decoy = 1\n"},
    )
    project = discover(proj)
    assert project.mse_toml is not None and project.mse_toml.schema == "1.x"
    assert project.code_dir is not None
    assert project.code_dir.resolve() == (proj / "mse_src").resolve()
    assert project.code_dir_origin == "[cloud] code"
    assert project.root.resolve() == proj.resolve()


def test_discover_0x_code_location(tmp_path: Path):
    proj = make_project(
        tmp_path / "proj",
        'name = "demo"\n[code]\nlocation = "src"\npython_application = "app:app"\n',
        {"src/app.py": "app = None\n"},
    )
    project = discover(proj)
    assert project.mse_toml is not None and project.mse_toml.schema == "0.x"
    assert project.mse_toml.python_application == "app:app"
    assert project.code_dir is not None
    assert project.code_dir.resolve() == (proj / "src").resolve()
    assert project.code_dir_origin == "[code] location"


def test_discover_falls_back_to_the_module_folder(tmp_path: Path):
    proj = make_project(
        tmp_path / "proj",
        'name = "demo"\npython_application = "app:app"\n',
        {"web/app.py": "app = None\n", "docs/index.md": "# docs\n"},
    )
    project = discover(proj)
    assert project.code_dir is not None
    assert project.code_dir.resolve() == (proj / "web").resolve()
    assert "python_application" in project.code_dir_origin


def test_discover_from_a_file_deep_inside(tmp_path: Path):
    proj = make_project(
        tmp_path / "proj",
        'name = "demo"\npython_application = "app:app"\n[cloud]\ncode = "mse_src"\n',
        {"mse_src/app.py": "app = None\n", "mse_src/pkg/sub/mod.py": "X = 1\n"},
    )
    project = discover(proj / "mse_src" / "pkg" / "sub" / "mod.py")
    assert project.mse_toml is not None
    assert project.mse_toml.path.resolve() == (proj / "mse.toml").resolve()
    assert project.code_dir is not None
    assert project.code_dir.resolve() == (proj / "mse_src").resolve()


@pytest.mark.parametrize(
    ("toml", "what"),
    [
        pytest.param('[cloud]\ncode = "missing"\n', "does not exist", id="missing-folder"),
        pytest.param('[cloud]\ncode = "app.py"\n', "is a file", id="a-file"),
        pytest.param('[code]\nlocation = "nope"\n', "does not exist", id="0x-missing"),
    ],
)
def test_discover_bad_code_dir(tmp_path: Path, toml: str, what: str):
    proj = make_project(
        tmp_path / "proj", 'name = "demo"\npython_application = "app:app"\n' + toml, {}
    )
    (proj / "app.py").write_text("app = None\n")
    # not an error of the run: the project has no code dir, MSE407 says why
    project = discover(proj)
    assert project.code_dir is None
    message = project.code_dir_error or ""
    assert "mse.toml" in message
    assert what in message


def test_discover_without_mse_toml(tmp_path: Path):
    folder = write_tree(tmp_path / "loose", {"app.py": "app = None\n"})
    (folder / ".git").mkdir()
    project = discover(folder)
    assert project.mse_toml is None and project.code_dir is None


# ------------------------------------------------------------------------------------------------
# the CLI: `mse-lint manifest PATH`
def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mse_lint_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


def test_cli_manifest(tmp_path: Path):
    proj = make_project(
        tmp_path / "proj",
        'name = "demo"\npython_application = "app:app"\n[cloud]\ncode = "mse_src"\n',
        {
            "mse_src/app.py": "app = None\n",
            "mse_src/pkg/util.py": "U = 1\n",
            "mse_src/requirements.txt": "flask\n",
            "mse_src/secrets.json": "{}\n",
            "mse_src/data/train.csv": "a,b\n",
            "mse_src/.env": "K=V\n",
            "mse_src/.mseignore": "secrets.json\n*.csv\n",
        },
    )
    done = run_cli("manifest", str(proj), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout

    def line_for(rel: str) -> str:
        found = [ln for ln in out.splitlines() if ln.split("  ")[0].strip() == rel]
        assert len(found) == 1, (rel, out)
        return found[0]

    assert line_for("app.py").endswith("  encrypted")
    assert line_for("pkg/util.py").endswith("  encrypted")
    assert line_for("requirements.txt").endswith("  clear text")
    assert line_for("secrets.json").endswith("excluded by pattern 'secrets.json'")
    assert line_for("data/train.csv").endswith("excluded by pattern '*.csv'")
    assert line_for(".env").endswith("  hidden")
    assert line_for(".mseignore").endswith("  hidden")
    assert "'secrets.json', '*.csv'" in out  # the patterns as applied
    assert "[cloud] code" in out
    totals = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^\s*([a-z ]+): (\d+) files?, ", out, flags=re.M)
    }
    assert totals == {"encrypted": 2, "clear text": 1, "excluded": 2, "hidden": 2, "ships": 3}


@needs_symlinks
def test_cli_manifest_reports_broken_links(tmp_path: Path):
    proj = make_project(
        tmp_path / "proj",
        'name = "demo"\npython_application = "app:app"\n[cloud]\ncode = "src"\n',
        {"src/app.py": "app = None\n"},
    )
    (proj / "src" / "gone.py").symlink_to(tmp_path / "nowhere.py")
    done = run_cli("manifest", str(proj), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "gone.py" in done.stdout and "broken symlink" in done.stdout


def test_cli_manifest_without_mse_toml(tmp_path: Path):
    folder = write_tree(tmp_path / "loose", {"app.py": "app = None\n"})
    (folder / ".git").mkdir()
    done = run_cli("manifest", str(folder), cwd=tmp_path)
    assert done.returncode == 2
    assert "no mse.toml" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_manifest_bad_code_dir(tmp_path: Path):
    proj = make_project(
        tmp_path / "proj",
        'name = "demo"\npython_application = "app:app"\n[cloud]\ncode = "x"\n',
        {},
    )
    done = run_cli("manifest", str(proj), cwd=tmp_path)
    assert done.returncode == 2
    assert "mse.toml" in done.stderr and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
