"""A cloned repository decides what is on disk: the walk of the code dir and the reads of the
files with fixed names must end, in bounded time and memory, and say what they left out.

Every run goes through the installed CLI with its memory capped (a read of ``/dev/zero`` ends
in MemoryError instead of taking the machine) and its standard input an open pipe that never
delivers (a read of ``/dev/stdin`` would hang until the timeout)."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest
from helpers import mse_lint_command
from test_robustness import TOML, _without_dac_override

MEMORY_CAP = 3 << 30


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run(
    *args: str, cwd: Path, timeout: float = 60, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    with subprocess.Popen(
        [*prefix, *mse_lint_command(), *args],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_cap_memory,
    ) as proc:
        try:
            # stdin stays open and empty while the run goes on: a read of it would block
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert "Traceback" not in out + err, err
    assert "internal error" not in err, err
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def project(tmp_path: Path, files: dict[str, str], toml: Optional[str] = TOML) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / ".git").mkdir()
    if toml is not None:
        (root / "mse.toml").write_text(toml)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def findings(proc: subprocess.CompletedProcess[str]) -> list[tuple[str, str]]:
    return [(f["path"], f["rule"]) for f in json.loads(proc.stdout)]


def notices(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("mse-lint: ")]


APP = "import os\nos.system('x')\n"
LINT = (".", "--format", "json", "--select", "MSE1,MSE2,MSE508")


# -- the walk ---------------------------------------------------------------------------------
def test_symlink_to_the_root_folder_is_a_loop_not_a_walk_of_the_filesystem(tmp_path: Path) -> None:
    """copytree would come back to the code dir through `/`: a loop, said at once (the walk
    used to list the whole filesystem, past 60 s and 347 MB)."""
    root = project(tmp_path, {"src/app.py": APP})
    (root / "src" / "root").symlink_to("/")
    (root / "src" / "up").symlink_to("..")
    started = time.monotonic()
    proc = run(*LINT, cwd=root, timeout=30)
    assert time.monotonic() - started < 20
    assert findings(proc) == [
        ("src/app.py", "MSE103"),
        ("src/root", "MSE508"),
        ("src/up", "MSE508"),
    ]
    loop = next(f for f in json.loads(proc.stdout) if f["path"] == "src/root")
    assert loop["message"].startswith("a symlink loop (via a symlink to /): mse-cli copies")
    manifest = run("manifest", ".", cwd=root, timeout=30)
    assert "root          0 B  symlink loop via / (copying the code dir fails)\n" in (
        manifest.stdout
    )


def test_symlink_to_another_filesystem_is_not_entered(tmp_path: Path) -> None:
    if os.stat("/proc").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("/proc is on the filesystem of the temporary folder")
    root = project(tmp_path, {"src/app.py": APP})
    (root / "src" / "kernel").symlink_to("/proc")
    proc = run(*LINT, cwd=root, timeout=30)
    # MSE207 still reports the link out of the code dir
    assert findings(proc) == [("src/app.py", "MSE103"), ("src/kernel", "MSE207")]
    assert notices(proc) == [
        "mse-lint: src/kernel: a folder on another filesystem than the code dir's (a symlink "
        "to /proc): not listed, its files are not checked; mse-cli would copy all of it"
    ]


def _dag(src: Path, levels: int) -> None:
    """``l<i>/a`` and ``l<i>/b`` both link to ``l<i-1>``: 2^levels paths to the leaf."""
    (src / "l0").mkdir()
    (src / "l0" / "leaf.py").write_text(APP)
    for i in range(1, levels + 1):
        (src / f"l{i}").mkdir()
        for name in ("a", "b"):
            (src / f"l{i}" / name).symlink_to(f"../l{i - 1}")
    (src / "top").symlink_to(f"l{levels}")


def test_symlink_dag_is_checked_once_per_real_folder(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    _dag(root / "src", 16)  # 65,536 paths to the leaf: 314 s before
    started = time.monotonic()
    proc = run(*LINT, cwd=root, timeout=60)
    assert time.monotonic() - started < 30
    assert findings(proc) == [("src/l0/leaf.py", "MSE103")]
    assert notices(proc) == [
        "mse-lint: src/l1/a: 33 symlinked folders reach a folder listed elsewhere (this one: "
        "l0): each real folder is checked once, but mse-cli copies it once per path"
    ]
    # without mse.toml the walk of a folder reaches each real folder once too
    (root / "mse.toml").unlink()
    walked = run("src", "--format", "json", "--select", "MSE1", cwd=root, timeout=60)
    assert findings(walked) == [("src/l0/leaf.py", "MSE103")]


def test_a_folder_is_reported_at_its_own_path_not_at_a_link_that_sorts_first(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, {"src/real/mod.py": APP})
    (root / "src" / "alias").symlink_to("real")
    proc = run(*LINT, cwd=root)
    assert findings(proc) == [("src/real/mod.py", "MSE103")]
    manifest = run("manifest", ".", cwd=root)
    assert "alias" in manifest.stdout and "a copy of real: listed there" in manifest.stdout


def test_walk_bounds_are_settings_with_a_notice(tmp_path: Path) -> None:
    files = {f"src/m{i}.py": APP for i in range(6)}
    files["src/a/b/c/d/deep.py"] = APP
    root = project(tmp_path, files)
    (root / "mse-lint.toml").write_text("max-files = 4\nmax-depth = 3\n")
    proc = run(*LINT, cwd=root)
    # sorted walk: the folder a/ first (a/b/c is three deep: d is one entry, not entered),
    # then m0.py...: four entries
    assert findings(proc) == [(f"src/m{i}.py", "MSE103") for i in range(3)]
    assert notices(proc) == [
        "mse-lint: src: more than 4 files and folders: listed the first 4, the rest is not "
        "checked; raise `max-files` in the mse-lint settings to check all",
        "mse-lint: src/a/b/c/d: 1 folder deeper than 3 folders (this one first): not listed, "
        "their files are not checked; raise `max-depth` in the mse-lint settings to check them",
    ]
    (root / "mse-lint.toml").write_text("max-files = 0\n")
    bad = run(*LINT, cwd=root)
    assert bad.returncode == 2
    assert bad.stderr == (
        f"mse-lint: error: {root / 'mse-lint.toml'}:1: `max-files` must be a whole number >= 1\n"
    )


def test_walk_without_mse_toml_is_bounded_too(tmp_path: Path) -> None:
    files = {f"src/m{i}.py": APP for i in range(5)}
    files["src/a/b/deep.py"] = APP
    root = project(tmp_path, files, toml=None)
    (root / "mse-lint.toml").write_text("max-files = 3\n")
    proc = run("src", "--format", "json", "--select", "MSE1", cwd=root)
    assert findings(proc) == [(f"src/m{i}.py", "MSE103") for i in range(3)]
    assert notices(proc)[1:] == [
        "mse-lint: src: more than 3 Python files: checked the first 3; raise `max-files` in "
        "the mse-lint settings to check all",
    ]
    (root / "mse-lint.toml").write_text("max-files = 6\n")  # exactly as many: nothing left out
    proc = run("src", "--format", "json", "--select", "MSE1", cwd=root)
    assert len(findings(proc)) == 6 and notices(proc)[1:] == []
    (root / "mse-lint.toml").write_text("max-depth = 1\n")
    proc = run("src", "--format", "json", "--select", "MSE1", cwd=root)
    assert findings(proc) == [(f"src/m{i}.py", "MSE103") for i in range(5)]
    assert notices(proc)[1:] == [
        "mse-lint: src/a/b: 1 folder deeper than 1 folders (this one first): not checked; "
        "raise `max-depth` in the mse-lint settings to check them",
    ]


def test_fifo_named_like_a_python_file_is_never_opened(tmp_path: Path) -> None:
    root = project(tmp_path, {"src/app.py": APP})
    os.mkfifo(root / "src" / "pipe.py")
    proc = run(*LINT, cwd=root, timeout=30)
    assert findings(proc) == [("src/app.py", "MSE103"), ("src/pipe.py", "MSE508")]
    (root / "mse.toml").unlink()
    for args in (("src",), ("src/pipe.py",)):
        walked = run(*args, "--format", "json", "--select", "MSE1", cwd=root, timeout=30)
        assert walked.returncode in (0, 1)


# -- fixed names through links and special files --------------------------------------------------
SPECIAL = ["/dev/zero", "/dev/stdin", "fifo"]


def _plant(path: Path, what: str) -> None:
    if what == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(what)


def _found(what: str) -> str:
    if what == "/dev/zero":
        return "a character device (a symlink to /dev/zero), not a regular file"
    if what == "fifo":
        return "a FIFO (named pipe), not a regular file"
    # /dev/stdin -> /proc/self/fd/0: the pipe the test holds open
    return "a FIFO (named pipe) (a symlink to "


@pytest.mark.parametrize("what", SPECIAL)
def test_requirements_include_that_is_not_a_file(tmp_path: Path, what: str) -> None:
    root = project(
        tmp_path,
        {
            "src/app.py": "import flask\n",
            "src/requirements.txt": "flask==2.2.5\n-r more.txt\n-c more.txt\n",
        },
    )
    _plant(root / "src" / "more.txt", what)
    proc = run(*LINT, cwd=root, timeout=30)
    assert ("src/more.txt", "MSE508") in findings(proc)
    # a link out of the code dir is not followed at all: pip would not find it in the enclave
    if what == "fifo":
        assert notices(proc) == [
            f"mse-lint: src/more.txt: requirements file not read: {_found(what)}; the "
            "requirements checks (MSE205, MSE504, MSE505) do not see what it installs; make it "
            "a regular file (mse-cli, pip and docker read it as a file too)"
        ]


@pytest.mark.parametrize("what", SPECIAL)
def test_dockerfile_and_secrets_file_that_are_not_files(tmp_path: Path, what: str) -> None:
    root = project(tmp_path, {"src/app.py": APP}, toml=TOML + 'secrets = "secrets.json"\n')
    _plant(root / "Dockerfile", what)
    if what == "fifo":
        os.mkfifo(root / "secrets.json")
    else:
        (root / "secrets.json").symlink_to(what)
    proc = run(*LINT, cwd=root, timeout=30)
    assert findings(proc) == [("src/app.py", "MSE103")]
    got = notices(proc)
    assert len(got) == 2, got
    assert got[1].startswith(f"mse-lint: secrets.json: secrets file not read: {_found(what)}")
    assert got[1].endswith(
        "; the secrets checks do not know its keys (MSE208, MSE209); make it a regular file "
        "(mse-cli, pip and docker read it as a file too)"
    )
    assert got[0].startswith(f"mse-lint: Dockerfile: Dockerfile not read: {_found(what)}")


@pytest.mark.parametrize("what", SPECIAL)
def test_mseignore_that_is_not_a_file_stops_the_run(tmp_path: Path, what: str) -> None:
    root = project(tmp_path, {"src/app.py": APP})
    _plant(root / "src" / ".mseignore", what)
    for args in (LINT, ("src/app.py",), ("manifest", ".")):
        proc = run(*args, cwd=root, timeout=30)
        assert proc.returncode == 2
        assert proc.stderr.startswith(
            f"mse-lint: error: {root / 'src' / '.mseignore'}: .mseignore not read: {_found(what)}"
        ), proc.stderr
        assert proc.stderr.endswith(
            "; what ships cannot be known; make it a regular file (mse-cli, pip and docker "
            "read it as a file too)\n"
        )


@pytest.mark.parametrize("name", ["mse.toml", "mse-lint.toml", "pyproject.toml"])
def test_project_and_settings_files_that_are_not_files(tmp_path: Path, name: str) -> None:
    root = project(tmp_path, {"src/app.py": APP})
    (root / name).unlink(missing_ok=True)
    (root / name).symlink_to("/dev/zero")
    proc = run(*LINT, cwd=root, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"mse-lint: error: {root / name}: cannot read"
        f"{' mse.toml' if name == 'mse.toml' else ''}: a character device (a symlink to "
        "/dev/zero), not a regular file\n"
    )


def test_fixed_name_files_larger_than_their_limit(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "src/app.py": "import flask\n",
            "src/requirements.txt": "flask==2.2.5\n" + "# padding\n" * 500_000,
        },
    )
    proc = run(*LINT, cwd=root)
    assert notices(proc) == [
        "mse-lint: src/requirements.txt: requirements file not read: 4.8 MiB, more than the "
        "4.0 MiB limit for a requirements file; the requirements checks (MSE205, MSE504, "
        "MSE505) do not see what it installs; no real requirements file is that large: check "
        "what the file holds"
    ]


# -- permissions (as a user without root's override) -------------------------------------------
def test_unreadable_project_files_each_give_one_notice(tmp_path: Path) -> None:
    prefix = _without_dac_override()
    root = project(
        tmp_path,
        {
            "src/app.py": APP,
            "src/requirements.txt": "flask==2.2.5\n",
            "src/locked/mod.py": APP,
            "Dockerfile": "FROM python:3.8\n",
            "secrets.json": '{"KEY": "x"}',
        },
        toml=TOML + 'secrets = "secrets.json"\n',
    )
    for rel in ("src/requirements.txt", "Dockerfile", "secrets.json", "src/locked"):
        (root / rel).chmod(0)
    try:
        proc = run(*LINT, cwd=root, prefix=prefix)
    finally:
        (root / "src" / "locked").chmod(0o755)
    todo = "make it readable to the user running mse-lint"
    assert notices(proc) == [
        "mse-lint: Dockerfile: Dockerfile not read: permission denied; its image and `pip "
        f"install` lines are not taken into account; {todo}",
        "mse-lint: secrets.json: secrets file not read: permission denied; the secrets checks "
        f"do not know its keys (MSE208, MSE209); {todo}",
        "mse-lint: src/requirements.txt: requirements file not read: permission denied; the "
        f"requirements checks (MSE205, MSE504, MSE505) do not see what it installs; {todo}",
        "mse-lint: src/locked: cannot list this folder: permission denied; its files are not "
        "checked, and mse-cli cannot copy it either (the deploy fails); make it readable",
    ]
    # what mse-cli cannot copy fails the run: the folder and the requirements file
    assert findings(proc) == [
        ("src/app.py", "MSE103"),
        ("src/locked", "MSE508"),
        ("src/requirements.txt", "MSE508"),
    ]
    assert proc.returncode == 1


def test_unreadable_shipped_python_file_fails_a_project_run(tmp_path: Path) -> None:
    prefix = _without_dac_override()
    root = project(tmp_path, {"src/app.py": "x = 1\n", "src/locked.py": "x = 1\n"})
    (root / "src" / "locked.py").chmod(0)
    proc = run(*LINT, cwd=root, prefix=prefix)
    assert notices(proc) == ["mse-lint: src/locked.py: cannot read: Permission denied; not checked"]
    assert findings(proc) == [("src/locked.py", "MSE508")]
    message = json.loads(proc.stdout)[0]["message"]
    assert message == (
        "a file that cannot be read (permission denied): mse-cli copies the code dir before "
        "encrypting it, and the copy fails here, so the deploy fails"
    )
    assert proc.returncode == 1


# -- settings and signals that hurt the machine ---------------------------------------------------
def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _many_files(root: Path, n: int, body: str = APP) -> None:
    for i in range(n):
        (root / "src" / f"module_{i:04d}.py").write_text(body)


def test_jobs_are_capped_at_the_cpu_count(tmp_path: Path) -> None:
    cpus = _cpus()
    if cpus >= 64:
        pytest.skip("64 or more CPUs: 64 jobs are not capped")
    root = project(tmp_path, {})
    _many_files(root, 60)
    (root / "mse-lint.toml").write_text("jobs = 64\n")
    proc = run(*LINT, cwd=root)
    assert len(findings(proc)) == 60
    assert notices(proc) == [
        f"mse-lint: 64 jobs asked for (--jobs or the `jobs` setting), but this process may use "
        f"{cpus} CPU{'s' if cpus != 1 else ''}: running {cpus} worker processes"
    ]
    # below the threshold of a parallel run (48 files) nothing is started, nothing said
    small = project(tmp_path / "small", {"src/app.py": APP})
    (small / "mse-lint.toml").write_text("jobs = 64\n")
    assert notices(run(*LINT, cwd=small)) == []


def _children(pid: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    if _cpus() < 2:
        pytest.skip("one CPU: no worker processes")
    body = "import subprocess\n\n" + "".join(
        f"def handler_{i}(x):\n    return subprocess.run([x], check=True)\n\n" for i in range(40)
    )
    root = project(tmp_path, {})
    _many_files(root, 2500, body)
    proc = subprocess.Popen(
        [*mse_lint_command(), ".", "--format", "json", "--jobs", "2", "--no-cache"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
            time.sleep(0.1)
            workers = _children(proc.pid)
        if len(workers) < 2:
            pytest.skip("the run ended before its workers could be seen")
        time.sleep(0.5)  # checking files
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        left = [w for w in workers if _alive(w)]
        assert left == [], "workers outlived their killed parent"
    finally:
        for w in _children(proc.pid) | workers:
            with contextlib.suppress(OSError):
                os.kill(w, 9)


def test_backtracking_user_regexes_are_dropped_with_a_notice(tmp_path: Path) -> None:
    """`(a|aa)+$` on 40 characters takes hours with `re`; the settings' patterns run with a time
    budget instead, and the notice names the pattern and what to do."""
    value = "a" * 40 + "b"
    root = project(
        tmp_path,
        {
            "src/app.py": f'TOKEN = "{value}"\nAPI_KEY = "acme_{"q7w3e9r1t5y8u2i6o4p0" * 2}-"\n',
            "src/other.py": f'KEY = "{value}"\n',
        },
    )
    (root / "mse-lint.toml").write_text(
        "[secrets]\n"
        'extra-patterns = [{ id = "bad", regex = "(a|aa)+$" }, '
        '{ id = "acme", regex = "acme_[a-z0-9]{40}-" }]\n'
        'allowlist-regex = ["(\\\\w|\\\\w\\\\w)+$"]\n'
    )
    started = time.monotonic()
    proc = run(".", "--format", "json", "--select", "MSE202", cwd=root, timeout=60)
    assert time.monotonic() - started < 20
    advice = (
        "not used for the rest of this run; a pattern with nested or overlapping repetition "
        "(like `(a|aa)+`) backtracks exponentially: rewrite it"
    )
    assert notices(proc) == [
        f"mse-lint: src/app.py: secrets.extra-patterns `bad` '(a|aa)+$' took more than 0.25 s "
        f"on one text: {advice}",
        "mse-lint: src/app.py: secrets.allowlist-regex '(\\\\w|\\\\w\\\\w)+$' took more than "
        f"0.25 s on one text: {advice}",
    ]
    # the well-behaved pattern still finds its format (and the allowlist no longer hides it)
    assert findings(proc) == [("src/app.py", "MSE202")]
    assert "acme (custom format)" in json.loads(proc.stdout)[0]["message"]
    assert proc.returncode == 1
