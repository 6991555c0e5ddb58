"""The hooks of .pre-commit-hooks.yaml, run by the real pre-commit on a fixture git repository.

pre-commit installs the hook repository into a virtualenv of its own with pip, as it does for
users. The hook repository is a committed copy of the files the package is built from (so the
working tree, committed or not, is what gets tested). mse-lint's dependencies are fetched once as
wheels from the configured package index; pre-commit's pip then runs with no index at all, from
those wheels, so nothing else is reached. try-repo installs into a fresh store at every call:
two calls, two installs, most of this test's time (about 90 s on a loaded 2-core machine, 22 s of
it CPU). Only a machine without git skips it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

MSE_TOML = (
    'name = "shop"\npython_application = "app:app"\nhealthcheck_endpoint = "/health"\n'
    'tests_cmd = "pytest"\ntests_requirements = ["pytest==7.2.0"]\n'
    '[cloud]\ncode = "src"\ntests = "tests"\n'
    'docker = "ghcr.io/cosmian/mse-flask:20230810125234"\nproject = "default"\n'
    'hardware = "4g-eu-001"\n'
)
APP_HEAD = (
    "from flask import Flask\n\napp = Flask(__name__)\n\n\n"
    '@app.get("/health")\ndef health():\n    return "ok"\n\n\n'
)
GOOD_APP = "import os\n\n" + APP_HEAD + "def render(path):\n    return os.path.basename(path)\n"
BAD_APP = (
    "import subprocess\n\n"
    + APP_HEAD
    + "def render(path):\n    return subprocess.run(['convert', path], check=True)\n"
)
# host-side code outside the code dir: never shipped, so never reported by the file hook
HOST_TOOL = "import subprocess\n\nsubprocess.run(['make', 'deploy'])\n"
LEAKY_REQUIREMENTS = "--extra-index-url https://deploy:Sup3rS3cret@pypi.internal.example/simple\n"


def _env(base: Path) -> dict[str, str]:
    """pre-commit's store and git's configuration inside the test's folder: the user's own
    hooks, identity and settings play no part."""
    gitconfig = base / "gitconfig"
    gitconfig.write_text("[user]\n\tname = t\n\temail = t@example.invalid\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(
        PRE_COMMIT_HOME=str(base / "pre-commit-home"),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(gitconfig),
        NO_COLOR="1",
    )
    return env


def _git(cwd: Path, env: dict[str, str], *args: str) -> None:
    proc = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"


def _hook_repo(dest: Path, env: dict[str, str]) -> Path:
    """A git repository holding what pip needs to build mse-lint, plus the hooks file."""
    dest.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(ROOT / name, dest / name)
    for folder in ("mse_lint", "rules"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    _git(dest, env, "init", "-q")
    _git(dest, env, "add", "-A")
    _git(dest, env, "commit", "-q", "-m", "hooks under test")
    return dest


def _try(hooks: Path, app: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Every hook of the repository on the staged files, as a user tries hooks out."""
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hooks), "--color", "never"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _wheelhouse(dest: Path, hooks: Path, env: dict[str, str]) -> None:
    """mse-lint's dependencies and build backend as wheels, fetched once from the configured
    package index, so that pre-commit's own installs run with no index at all."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(dest), str(hooks), "hatchling"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    for own in dest.glob("mse_lint-*.whl"):
        own.unlink()  # pre-commit must build the hook repository itself


def _app_repo(root: Path, env: dict[str, str]) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "tools").mkdir()
    (root / "tests").mkdir()
    (root / "tests" / ".gitkeep").write_text("")
    (root / "mse.toml").write_text(MSE_TOML)
    (root / "src" / "app.py").write_text(GOOD_APP)
    (root / "src" / "requirements.txt").write_text("flask==2.2.5\n")
    _git(root, env, "init", "-q")
    _git(root, env, "add", "-A")
    _git(root, env, "commit", "-q", "-m", "clean app")
    return root


def _status(out: str, name: str) -> str:
    """``Passed`` / ``Failed`` from pre-commit's ``name......Passed`` line of a hook."""
    for line in out.splitlines():
        if line.startswith(name + ".") or line.startswith(name + " ."):
            return line.rsplit(".", 1)[-1].strip()
    raise AssertionError(f"no status line for {name!r} in:\n{out}")


def test_hooks_fail_on_a_bad_commit_and_pass_on_a_good_one(tmp_path: Path) -> None:
    env = _env(tmp_path)
    hooks = _hook_repo(tmp_path / "hooks", env)
    _wheelhouse(tmp_path / "wheels", hooks, env)
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path / "wheels"))
    app = _app_repo(tmp_path / "app", env)

    # the bad commit: a subprocess call in shipped code, a password in a shipped
    # requirements.txt, and a host-side tool that spawns processes (fine: it never ships)
    (app / "src" / "app.py").write_text(BAD_APP)
    (app / "src" / "requirements.txt").write_text(LEAKY_REQUIREMENTS + "flask==2.2.5\n")
    (app / "tools" / "deploy.py").write_text(HOST_TOOL)
    _git(app, env, "add", "-A")
    bad = _try(hooks, app, env)
    out = bad.stdout
    assert bad.returncode == 1, out + bad.stderr
    assert _status(out, "mse-lint") == "Failed"
    assert _status(out, "mse-lint (whole project)") == "Failed"
    file_hook = out[out.index("- hook id: mse-lint\n") : out.index("mse-lint (whole project)")]
    assert "src/app.py\n  14:12  error   MSE101 subprocess-call: `subprocess.run`" in file_hook
    # the file hook looks at Python files only, and reports only those that ship
    assert "MSE205" not in file_hook
    assert "tools/deploy.py" not in file_hook
    assert "1 named file not checked: not shipped to the enclave" in file_hook
    project_hook = out[out.index("- hook id: mse-lint-project") :]
    assert "src/requirements.txt\n  1:" in project_hook
    assert "MSE205 secret-in-requirements" in project_hook
    assert "MSE101 subprocess-call" in project_hook
    assert "tools/deploy.py" not in project_hook
    assert "Sup3rS3cret" not in out

    # the good commit: both fixed; the host-side tool is still there
    (app / "src" / "app.py").write_text(GOOD_APP)
    (app / "src" / "requirements.txt").write_text("flask==2.2.5\n")
    _git(app, env, "add", "-A")
    good = _try(hooks, app, env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert _status(good.stdout, "mse-lint") == "Passed"
    assert _status(good.stdout, "mse-lint (whole project)") == "Passed"
