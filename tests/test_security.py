"""What a static linter owes its users: it runs none of their code, reads nothing outside their
project through a symlink, and never prints a secret, whatever the output format."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from helpers import mse_lint_command
from test_robustness import TOML, output_formats

from mse_lint.core.catalog import load_catalog


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*mse_lint_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


# -- no user code runs --------------------------------------------------------------------------
def test_static_run_executes_no_user_code(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    payload = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    root = tmp_path / "proj"
    src = root / "src"
    src.mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "mse.toml").write_text(TOML)
    files = {
        # the app imports a local module whose import has a side effect
        "src/app.py": "import evil\nfrom pkg import thing\nimport subprocess\n"
        "subprocess.run(['ls'])\n",
        "src/evil.py": payload,
        "src/pkg/__init__.py": payload + "thing = 1\n",
        # files Python or pytest run by themselves when found on the path or in a folder
        "src/conftest.py": payload,
        "conftest.py": payload,
        "setup.py": payload,
        "src/setup.py": payload,
        "src/sitecustomize.py": payload,
        "sitecustomize.py": payload,
        "src/usercustomize.py": payload,
        "src/__main__.py": payload,
        "src/evil.pth": f"import os; {payload}",
        "evil.pth": f"import os; {payload}",
        # a config file that names a plugin-like module, and a secrets file with code-ish content
        "mse-lint.toml": 'select = ["MSE"]\n',
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    every = ",".join(load_catalog().rules)
    for fmt in output_formats():
        proc = run(".", "--format", fmt, "--select", every, cwd=root)
        assert proc.returncode == 1, proc.stderr
    for args in (("manifest", "."), ("src/app.py", "--jobs", "2"), ("src",)):
        run(*args, cwd=root)
    assert not marker.exists(), marker.read_text()


# -- symlinks out of the project -------------------------------------------------------------------
def test_symlinks_out_of_the_project_are_reported_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "pkg").mkdir(parents=True)
    secret = "hunter2-" + "Zq8xT4mW9rK2vB7nL5pD"
    text = f"import os\nos.system('rm -rf /')\nPASSWORD = {secret!r}\n"
    (outside / "evil.py").write_text(text)
    (outside / "pkg" / "m.py").write_text(text)
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "mse.toml").write_text(TOML)
    (root / "src" / "app.py").write_text("x = 1\n")
    (root / "src" / "leak.py").symlink_to(outside / "evil.py")
    (root / "src" / "pkg").symlink_to(outside / "pkg")

    proc = run(".", "--format", "json", cwd=root)
    found = [(f["path"], f["rule"], f["line"]) for f in json.loads(proc.stdout)]
    # reported (MSE207), never read: no finding about what the targets contain
    assert ("src/leak.py", "MSE207", 1) in found
    assert ("src/pkg", "MSE207", 1) in found
    linked = [f for f in found if f[0].startswith(("src/leak.py", "src/pkg"))]
    assert [f for f in linked if f[1] != "MSE207"] == []
    assert "src/leak.py: a symlink to outside the project: not read" in proc.stderr
    console = run(".", "--no-color", cwd=root)
    assert "rm -rf" not in console.stdout and secret not in console.stdout
    # without mse.toml the folder is walked: links out of it are not followed either
    (root / "mse.toml").unlink()
    walked = run("src", "--format", "json", cwd=root)
    assert json.loads(walked.stdout) == []
    assert "src/pkg: a symlink to outside the project: not read" in walked.stderr


# -- secrets never printed ------------------------------------------------------------------------
def _format_secrets() -> list[tuple[str, str]]:
    """(example as written, the secret part of it) for every credential format of the
    catalogue: the value a report must never show."""
    out = []
    for fmt in load_catalog().data("secrets").get("formats", []):
        regex = re.compile(fmt["regex"])
        group = fmt.get("secret_group", 0)
        for example in fmt.get("examples", []):
            m = regex.search(example)
            assert m is not None, (fmt["id"], example)
            out.append((example, m.group(group)))
    return out


OTHER_SECRETS = {
    # MSE201 hardcoded secret, MSE203 URL credentials, MSE204 high entropy, MSE205 requirements
    "src/settings.py": (
        "DB_PASSWORD = 'Wq3!vR8#nZ5^kT1@'\n"
        "DATABASE_URL = 'postgres://admin:Pj7$Lm2&Xc9*Hb4@db.internal:5432/app'\n"
        "signing_material = 'q8Zr4Nw2Xk7Vb5Mc3Lp9Hs6Jd1Gf0TyUeRiOaSdFgHjKl'\n"
    ),
    "src/requirements.txt": (
        "--extra-index-url https://deploy:Yt6Ge3Rw9Qa2Zs5X@pypi.internal.example/simple\nflask\n"
    ),
}
OTHER_VALUES = [
    "Wq3!vR8#nZ5^kT1@",
    "Pj7$Lm2&Xc9*Hb4",
    "q8Zr4Nw2Xk7Vb5Mc3Lp9Hs6Jd1Gf0TyUeRiOaSdFgHjKl",
    "Yt6Ge3Rw9Qa2Zs5X",
]


def _secrets_project(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "mse.toml").write_text(TOML)
    lines = ["import os", ""]
    values = []
    for i, (example, value) in enumerate(_format_secrets()):
        values.append(value)
        if "\n" in example:  # PEM blocks and the like: a triple-quoted literal
            lines.append(f'KEY_{i} = """{example}"""')
        else:
            lines.append(f"# {example}")
            lines.append(f"token_{i} = {example!r}")
    (root / "src" / "app.py").write_text("\n".join(lines) + "\n")
    for rel, text in OTHER_SECRETS.items():
        (root / rel).write_text(text)
    # the same secrets in a file that ships and is named like a secrets file (MSE206)
    (root / "src" / "secrets.json").write_text(
        json.dumps({f"k{i}": v for i, v in enumerate(values)}, indent=1)
    )
    return root, values + OTHER_VALUES


def _pieces(value: str, size: int = 12) -> list[str]:
    """The value and every run of ``size`` of its characters (a report showing a long piece of
    a secret leaks it as surely as the whole)."""
    if len(value) <= size:
        return [value]
    return [value[i : i + size] for i in range(len(value) - size + 1)]


def test_no_output_format_prints_a_secret(tmp_path: Path) -> None:
    root, values = _secrets_project(tmp_path)
    every = ",".join(load_catalog().rules)
    formats = output_formats()
    outputs = {}
    for fmt in formats:
        proc = run(".", "--format", fmt, "--select", every, "--no-color", cwd=root)
        assert proc.returncode == 1, proc.stderr
        out_file = tmp_path / f"report.{fmt}"
        run(".", "--format", fmt, "--select", every, "-o", str(out_file), cwd=root)
        outputs[fmt] = (
            _findings_only(fmt, proc.stdout)
            + proc.stderr
            + _findings_only(fmt, out_file.read_text())
        )
    # the run did find them: every format reports something for the secrets file and app
    rules = {f["rule"] for f in json.loads(run(".", "--format", "json", cwd=root).stdout)}
    assert {"MSE201", "MSE202", "MSE203", "MSE205", "MSE206"} <= rules
    leaks = []
    for fmt, text in outputs.items():
        flat = text.replace("\\n", "\n").replace("\\/", "/")
        for value in values:
            body = value.strip()
            for piece in _pieces(body):
                if piece.strip() and piece in flat and not _boilerplate(piece):
                    leaks.append((fmt, value[:8] + "...", piece))
                    break
    assert leaks == []


def _findings_only(fmt: str, text: str) -> str:
    """SARIF carries the catalogue's documentation of every rule (the same in every run), whose
    examples are the very credential examples the fixture is made of: search the rest."""
    if fmt != "sarif":
        return text
    doc = json.loads(text)
    for run_ in doc["runs"]:
        run_["tool"]["driver"].pop("rules", None)
    return json.dumps(doc)


def _boilerplate(piece: str) -> bool:
    """Text of a PEM block's armour lines, which say what the block is, not what it holds."""
    return bool(re.fullmatch(r"[-A-Z ]*", piece)) or "-----" in piece


def test_every_credential_example_is_found(tmp_path: Path) -> None:
    """So the test above does not pass on an empty report: MSE202 fires on every example."""
    root, _ = _secrets_project(tmp_path)
    proc = run(".", "--format", "json", "--select", "MSE202", cwd=root)
    lines = {f["line"] for f in json.loads(proc.stdout) if f["path"] == "src/app.py"}
    text = (root / "src" / "app.py").read_text().splitlines()
    comments, in_block = set(), False
    for i, line in enumerate(text, start=1):
        if line.startswith("KEY_") or in_block:
            in_block = not line.endswith('"""')
        elif line.startswith("# "):
            comments.add(i)
    assert len(comments) > 50
    assert comments - lines == set()
