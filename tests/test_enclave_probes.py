"""Run the stdlib probes of rules/process.toml under a model of the enclave's no-process policy.

Every `[[api]]` entry with a `probe` key carries a snippet that uses the API. Each snippet runs in
a fresh interpreter with the seccomp model of Gramine's `sys.disallow_subprocesses` installed
(tests/enclave_sim.py, a copy of the team's shared simulator), and the test checks that it
really fails there:

- `expect = "raises"` (the default): an OSError-family exception escapes; the same snippet
  without the simulator exits 0, so the failure is the enclave policy's doing.
- `expect = "silent"`: nothing escapes, but the snippet tried to start a process (seen by an
  audit hook installed before the snippet runs).
- `shm = true`: the probe also runs with an empty read-only tmpfs over /dev/shm, in a private
  mount namespace (the enclave has no /dev/shm).
- `python = "X.Y"`: the probe runs on that interpreter version (skipped when none is found).

Entries whose top-level module is in the stdlib must have a probe, or a `probe_skip` reason.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import glob
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
SIM = HERE / "enclave_sim.py"
CATALOGUE = HERE.parent / "rules" / "process.toml"
TIMEOUT = 60  # seconds, per subprocess
WORKERS = min(8, 2 * (os.cpu_count() or 1) + 2)  # the children mostly wait on each other

EXPECTS = ("raises", "silent")

# Audit events CPython raises when it creates or replaces a process. Checked against the
# interpreters themselves (3.8-3.13): the C events are os.fork, os.forkpty, os.posix_spawn (also
# for posix_spawnp), os.exec and os.system; subprocess.Popen and pty.spawn come from the Python
# modules. os.spawn* are fork+exec wrappers in os.py on POSIX ("os.spawn" exists on Windows only).
PROCESS_EVENTS = (
    "subprocess.Popen",
    "os.posix_spawn",
    "os.fork",
    "os.forkpty",
    "os.system",
    "os.exec",
    "os.spawn",
    "pty.spawn",
)
MARK_EVENT = "@@mse-probe-audit "
MARK_EXC = "@@mse-probe-exc "

# Runs in the child (`python -I -c DRIVER MODE SIM_PATH SNIPPET`); must stay Python 3.8 compatible.
DRIVER = f"""
import os, sys
mode, sim_path, snippet = sys.argv[1:4]
del sys.argv[1:]
if mode == "sim":
    import importlib.util
    spec = importlib.util.spec_from_file_location("enclave_sim", sim_path)
    enclave_sim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(enclave_sim)
    enclave_sim.install()

def _hook(event, args, _events={PROCESS_EVENTS!r}):
    if event in _events:
        os.write(2, ("\\n{MARK_EVENT}" + event + "\\n").encode())

sys.addaudithook(_hook)
try:
    exec(compile(snippet, "<probe>", "exec"), {{"__name__": "__main__"}})
except BaseException as exc:
    import json
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append([c.__name__ for c in type(exc).__mro__])
        exc = exc.__cause__ or exc.__context__
    os.write(2, ("\\n{MARK_EXC}" + json.dumps(chain) + "\\n").encode())
    raise
"""

SHM_WRAPPER = 'mount -t tmpfs -o ro none /dev/shm && exec "$0" "$@"'


def _load_entries() -> list[dict[str, Any]]:
    with CATALOGUE.open("rb") as f:
        return list(tomllib.load(f).get("api", []))


API = _load_entries()
PROBED = [e for e in API if "probe" in e]


def _entry_id(entry: dict[str, Any]) -> str:
    return f"{entry['name']}-{entry['rule']}"


def _top_module(name: str) -> str:
    return name.split(".", 1)[0].replace("()", "").rstrip("*")


@dataclasses.dataclass
class Run:
    cmd: list[str] = dataclasses.field(repr=False)
    returncode: int | None  # None: timed out
    stdout: str = dataclasses.field(repr=False)
    stderr: str = dataclasses.field(repr=False)

    @property
    def events(self) -> list[str]:
        return [
            line[len(MARK_EVENT) :].strip()
            for line in self.stderr.splitlines()
            if line.startswith(MARK_EVENT)
        ]

    @property
    def exc_chain(self) -> list[list[str]]:
        for line in self.stderr.splitlines():
            if line.startswith(MARK_EXC):
                return list(json.loads(line[len(MARK_EXC) :]))
        return []

    @property
    def error(self) -> str:
        """The last line of the traceback, for messages."""
        lines = [ln for ln in self.stderr.splitlines() if ln.strip() and not ln.startswith("@@")]
        return lines[-1] if lines else ""

    def describe(self) -> str:
        status = "timed out" if self.returncode is None else f"exit {self.returncode}"
        return f"{status}; stderr:\n{self.stderr[-3000:]}\nstdout:\n{self.stdout[-1000:]}"


def _run(cmd: list[str]) -> Run:
    """Run `cmd` in its own session with a timeout; kill the whole group when it expires."""
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
        return Run(cmd, proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # a grandchild left its own session with the pipes
            proc.kill()
            out, err = "", ""
        return Run(cmd, None, out, err)


def _probe_cmd(python: str, snippet: str, *, sim: bool, shm: bool) -> list[str]:
    cmd = [python, "-I", "-c", DRIVER, "sim" if sim else "host", str(SIM), snippet]
    if shm:
        cmd = ["unshare", "-m", "sh", "-c", SHM_WRAPPER, *cmd]
    return cmd


def _version_of(python: str) -> str | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.cache
def _find_python(version: str) -> str | None:
    """An interpreter for `version` ("3.8"): this one, a pyenv version, or pythonX.Y on PATH."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return sys.executable
    roots = []
    if shutil.which("pyenv"):
        try:
            out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=TIMEOUT)
            roots.append(out.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    roots += [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv")]
    candidates = []
    for root in filter(None, roots):
        pattern = os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}")
        candidates += sorted(glob.glob(pattern), reverse=True)
    which = shutil.which(f"python{version}")
    if which:
        candidates.append(which)
    for candidate in candidates:
        if _version_of(candidate) == version:
            return candidate
    return None


def _seccomp_unavailable() -> str | None:
    system, machine = platform.system(), platform.machine()
    if system != "Linux" or machine not in ("x86_64", "AMD64"):
        return f"the seccomp model needs Linux x86-64 (this is {system} {machine})"
    run = _run([sys.executable, str(SIM), "-c", "pass"])
    if run.returncode != 0:
        return f"cannot install the seccomp filter: {run.error or run.describe()}"
    return None


def _shm_unavailable() -> str | None:
    if not shutil.which("unshare"):
        return "`unshare` is not installed: cannot hide /dev/shm"
    run = _run(["unshare", "-m", "sh", "-c", SHM_WRAPPER, "true"])
    if run.returncode != 0:
        return (
            f"cannot mount a read-only tmpfs over /dev/shm: {run.stderr.strip() or run.describe()}"
        )
    return None


@dataclasses.dataclass
class Outcome:
    skip: str | None = None
    sim: Run | None = None  # the probe under the enclave model
    host: Run | None = None  # the same snippet on the host, without the model


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    reason = _seccomp_unavailable()
    if reason:
        pytest.skip(reason)
    shm_reason = _shm_unavailable() if any(e.get("shm") for e in PROBED) else None

    results: dict[str, Outcome] = {}
    jobs: dict[concurrent.futures.Future[Run], tuple[str, str]] = {}
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        for entry in PROBED:
            key, outcome = _entry_id(entry), Outcome()
            results[key] = outcome
            version = entry.get("python")
            python = _find_python(str(version)) if version else sys.executable
            if python is None:
                outcome.skip = f"no Python {version} interpreter found (pyenv or python{version})"
                continue
            if entry.get("shm") and shm_reason:
                outcome.skip = shm_reason
                continue
            sim_cmd = _probe_cmd(python, entry["probe"], sim=True, shm=bool(entry.get("shm")))
            jobs[pool.submit(_run, sim_cmd)] = (key, "sim")
            if entry.get("expect", "raises") == "raises":
                host_cmd = _probe_cmd(python, entry["probe"], sim=False, shm=False)
                jobs[pool.submit(_run, host_cmd)] = (key, "host")
        for future in concurrent.futures.as_completed(jobs):
            key, which = jobs[future]
            setattr(results[key], which, future.result())
    return results


def _is_process_error(mro: list[str]) -> bool:
    return "OSError" in mro or "BrokenExecutor" in mro  # BrokenExecutor: BrokenProcessPool


@pytest.mark.parametrize("entry", PROBED, ids=_entry_id)
def test_probe_fails_in_enclave(entry: dict[str, Any], outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[_entry_id(entry)]
    if outcome.skip:
        pytest.skip(outcome.skip)
    sim = outcome.sim
    assert sim is not None
    expect = entry.get("expect", "raises")
    assert expect in EXPECTS, f"unknown expect = {expect!r}"

    if expect == "silent":
        assert sim.returncode == 0 and not sim.exc_chain, (
            f"expected the failure to be swallowed, but the probe failed: {sim.describe()}"
        )
        assert sim.events, (
            "the probe never tried to start a process (no audit event among "
            f"{', '.join(PROCESS_EVENTS)}): {sim.describe()}"
        )
        return

    assert sim.returncode not in (None, 0), f"expected an exception to escape: {sim.describe()}"
    assert "Traceback (most recent call last)" in sim.stderr, sim.describe()
    chain = sim.exc_chain
    assert chain, f"no exception recorded: {sim.describe()}"
    assert any(_is_process_error(mro) for mro in chain), (
        f"expected an OSError-family error (BlockingIOError, FileNotFoundError, ...), got "
        f"{' <- '.join(mro[0] for mro in chain)}: {sim.describe()}"
    )

    host = outcome.host
    assert host is not None
    if host.returncode is None:
        pytest.skip(f"the probe also hangs on this host: {host.describe()}")
    if host.returncode != 0:
        pytest.skip(f"the probe also fails on this host, not only in the enclave: {host.error}")


def test_probe_keys_are_well_formed() -> None:
    problems = []
    for entry in API:
        where = _entry_id(entry)
        if "probe" in entry and "probe_skip" in entry:
            problems.append(f"{where}: both probe and probe_skip")
        if "probe_skip" in entry and not str(entry["probe_skip"]).strip():
            problems.append(f"{where}: empty probe_skip reason")
        if "probe" not in entry:  # `python` is not checked here: the linter reads it too
            extra = [k for k in ("expect", "shm") if k in entry]
            if extra:
                problems.append(f"{where}: {', '.join(extra)} without a probe")
            continue
        if not isinstance(entry["probe"], str) or not entry["probe"].strip():
            problems.append(f"{where}: probe must be a non-empty string")
        if entry.get("expect", "raises") not in EXPECTS:
            problems.append(f"{where}: expect must be one of {EXPECTS}")
        if not isinstance(entry.get("shm", False), bool):
            problems.append(f"{where}: shm must be a boolean")
        if "python" in entry and not isinstance(entry["python"], str):
            problems.append(f"{where}: python must be a string such as '3.8'")
    assert not problems, "\n".join(problems)


def test_every_stdlib_entry_has_a_probe() -> None:
    if sys.version_info < (3, 10):
        pytest.skip("sys.stdlib_module_names needs Python 3.10+")
    missing = [
        _entry_id(entry)
        for entry in API
        if _top_module(entry["name"]) in sys.stdlib_module_names
        and "probe" not in entry
        and "probe_skip" not in entry
    ]
    assert not missing, (
        'stdlib entries without a probe (add one, or `probe_skip = "reason"`): '
        + ", ".join(missing)
    )


def test_the_thread_pool_mse104_recommends_works_in_the_enclave() -> None:
    """MSE104's fix hint names concurrent.futures.ThreadPoolExecutor: under the same model, with
    /dev/shm hidden too, it runs (its work queue is a queue.SimpleQueue, no semaphore), where
    multiprocessing.pool.ThreadPool fails (its probe above)."""
    reason = _seccomp_unavailable() or _shm_unavailable()
    if reason:
        pytest.skip(reason)
    snippet = (
        "import concurrent.futures as cf\n"
        "with cf.ThreadPoolExecutor(2) as pool:\n"
        "    assert list(pool.map(abs, [-1, -2])) == [1, 2]\n"
    )
    run = _run(_probe_cmd(sys.executable, snippet, sim=True, shm=True))
    assert run.returncode == 0, run.describe()
