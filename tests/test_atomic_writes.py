"""Reports and baselines: an interrupted write leaves nothing behind, an overwritten file keeps
its mode, a new one gets the umask's, and a link at the named path is never written through
(unless it names one of the process's own descriptors)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import complete_mse_toml, mse_lint_command

from mse_lint.core import atomic
from mse_lint.core.atomic import write_atomic

APP = "import subprocess\nsubprocess.run(['ls'])\n"


def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "mse.toml").write_text(complete_mse_toml(code="src"))
    (root / "src" / "app.py").write_text(APP)
    return root


def run(*args: str, cwd: Path, umask: int = 0o022, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mse_lint_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        umask=umask,
        timeout=120,
        **kw,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# -- interrupted between creating the temporary file and the rename ----------------------------


@pytest.mark.parametrize("stop", [KeyboardInterrupt, MemoryError])
def test_interrupt_right_after_the_temporary_file_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: type[BaseException]
) -> None:
    """Ctrl-C can land as soon as os.open has made the file, before its descriptor is even
    stored: the temporary file is removed all the same."""
    real_open = os.open

    def open_then_stop(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        fd = real_open(path, flags, *args, **kw)
        if str(path).endswith(".tmp"):
            os.close(fd)
            raise stop
        return fd

    target = tmp_path / "report.sarif"
    target.write_text("previous\n")
    monkeypatch.setattr(os, "open", open_then_stop)
    with pytest.raises(stop):
        write_atomic(target, "new report\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.sarif"]
    assert target.read_text() == "previous\n"


def test_interrupt_in_the_rename_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_rename(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "baseline.json", "{}\n")
    assert list(tmp_path.iterdir()) == []


def test_someone_elses_file_under_the_temporary_name_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = iter([b"\x00" * 6, b"\x01" * 6])
    monkeypatch.setattr(os, "urandom", lambda n: next(names))
    taken = tmp_path / ".out.json.000000000000.tmp"
    taken.write_text("not mine")
    write_atomic(tmp_path / "out.json", "mine")
    assert taken.read_text() == "not mine"
    assert (tmp_path / "out.json").read_text() == "mine"


def test_the_temporary_file_is_not_made_through_a_planted_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """O_EXCL|O_NOFOLLOW: a link planted under the next temporary name is not written to."""
    names = iter([b"\x00" * 6, b"\x01" * 6])
    monkeypatch.setattr(os, "urandom", lambda n: next(names))
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / ".out.json.000000000000.tmp").symlink_to(victim)
    write_atomic(tmp_path / "out.json", "report")
    assert victim.read_text() == "keep"
    assert (tmp_path / "out.json").read_text() == "report"


# -- modes -------------------------------------------------------------------------------------


def test_overwritten_report_and_baseline_keep_their_mode(tmp_path: Path) -> None:
    root = project(tmp_path)
    report, base = root / "report.json", root / "baseline.json"
    for path in (report, base):
        path.write_text("old\n")
        path.chmod(0o664)
    assert run(".", "--format", "json", "-o", str(report), cwd=root).returncode == 1
    assert run(".", "--write-baseline", str(base), cwd=root).returncode == 0
    assert report.read_text().startswith("[")
    assert base.read_text().startswith("{")
    assert (mode(report), mode(base)) == (0o664, 0o664)


@pytest.mark.parametrize("umask, want", [(0o002, 0o664), (0o022, 0o644), (0o077, 0o600)])
def test_new_report_and_baseline_get_the_umasks_mode(tmp_path: Path, umask: int, want: int) -> None:
    root = project(tmp_path)
    run(".", "--format", "sarif", "-o", "report.sarif", cwd=root, umask=umask)
    run(".", "--write-baseline", "baseline.json", cwd=root, umask=umask)
    assert (mode(root / "report.sarif"), mode(root / "baseline.json")) == (want, want)


# -- links at the named path -------------------------------------------------------------------


def test_a_link_to_a_device_is_replaced_not_written_through(tmp_path: Path) -> None:
    """``report.json`` committed as a link to a device (here /dev/zero, harmless): the report
    takes the link's place; nothing is written into the device."""
    root = project(tmp_path)
    (root / "report.json").symlink_to("/dev/zero")
    proc = run(".", "--format", "json", "-o", "report.json", cwd=root)
    assert proc.returncode == 1, proc.stderr
    assert not (root / "report.json").is_symlink()
    assert (root / "report.json").read_text().startswith("[")


def test_a_link_to_a_file_is_replaced_and_its_target_kept(tmp_path: Path) -> None:
    root = project(tmp_path)
    target = tmp_path / "bashrc"
    target.write_text("export X=1\n")
    (root / "baseline.json").symlink_to(target)
    assert run(".", "--write-baseline", "baseline.json", cwd=root).returncode == 0
    assert target.read_text() == "export X=1\n"
    assert not (root / "baseline.json").is_symlink()


def test_a_link_to_the_process_stdout_is_written_in_place(tmp_path: Path) -> None:
    """``-o /dev/stdout > file``: the report goes to the file the shell opened (a rename would
    put a regular file in place of the link, as root of /dev/stdout itself)."""
    root = project(tmp_path)
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    if not os.path.exists("/proc/self/fd/1"):
        pytest.skip("no /proc")
    out = tmp_path / "captured.json"
    with open(out, "w") as fh:
        proc = subprocess.run(
            [*mse_lint_command(), ".", "--format", "json", "-o", str(link)],
            cwd=root,
            stdout=fh,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1, proc.stderr
    assert link.is_symlink()
    assert out.read_text().startswith("[")


def test_descriptor_links_are_recognised() -> None:
    assert atomic._names_a_descriptor("/dev/stdout")
    assert atomic._names_a_descriptor("/dev/fd/1")
    assert atomic._names_a_descriptor(os.devnull)
    assert not atomic._names_a_descriptor("/etc/passwd")
