"""No output format ever prints a detected secret in full."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import mse_lint_command

from mse_lint.core.catalog import load_catalog
from mse_lint.core.redact import mask_span, redact

CATALOG = load_catalog()


def _format_examples() -> list[str]:
    formats = CATALOG.data("secrets").get("formats", [])
    return [ex for f in formats for ex in f.get("examples", [])[:1] if "\n" not in ex]


# Secrets planted in the project, by the rule expected to catch them.
NAMED = {
    "DB_PASSWORD": "Tr0ub4dor&3xq",
    "api_key": "k9Qm2ZxW8vLp4TnB7rYc",
    "clientSecret": "9f1c2e7a-very-Secret-77",
}
URL_PASSWORD = "hunter22xQ"
ENTROPY = "q7Zr2XbL9pVt4WmKs8NdY3hJcF6gUa1E5oRiT0yBnQw="
REQ_PASSWORD = "Sup3rS3cretIndex"


def _project(root: Path) -> list[str]:
    code = root / "mse_src"
    code.mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "mse.toml").write_text(
        'name = "leaky"\npython_application = "app:app"\n[cloud]\ncode = "mse_src"\n'
    )
    lines = ["import os", ""]
    lines += [f'{name} = "{value}"' for name, value in NAMED.items()]
    lines.append(f'DATABASE_URL = "postgresql://app:{URL_PASSWORD}@db:5432/app"')
    lines.append(f'SIGNING = sign(key="{ENTROPY}")')
    planted = [*NAMED.values(), URL_PASSWORD, ENTROPY, REQ_PASSWORD]
    for i, example in enumerate(_format_examples()):
        lines.append(f"TOKEN_{i} = {example!r}  # and again: {example}")
        planted.append(example)
    (code / "app.py").write_text("\n".join(lines) + "\n")
    (code / "requirements.txt").write_text(
        f"--extra-index-url https://deploy:{REQ_PASSWORD}@pypi.internal.example/simple\n"
        "flask==2.2.5\n"
    )
    return planted


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--color"],
        ["--quiet"],
        ["--format", "json"],
    ],
    ids=["console", "color", "quiet", "json"],
)
def test_no_output_format_prints_a_secret(tmp_path: Path, args: list[str]) -> None:
    planted = _project(tmp_path / "p")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.run(
        [*mse_lint_command(), str(tmp_path / "p"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout + proc.stderr
    assert "MSE20" in out
    leaked = [s for s in planted if s in out]
    assert leaked == [], f"secrets printed in full: {[redact(s) for s in leaked]}"


def test_redact_shows_at_most_four_characters_and_the_length() -> None:
    assert redact("ghp_abcdefghijklmnopqrstuvwxyz0123456789") == "'ghp_****' (40 chars)"
    assert redact("abc123") == "'a****' (6 chars)"
    assert redact("") == "'****' (0 chars)"


def test_mask_span_keeps_the_line_around_the_secret() -> None:
    line = 'KEY = "abcdefghijklmnop"  # note'
    assert mask_span(line, 7, 23) == 'KEY = "abcd************"  # note'
