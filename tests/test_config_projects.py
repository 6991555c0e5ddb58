"""MSE401-MSE412 on fixture projects (tests/fixtures/config/*): one project per rule condition.

Each project's ``EXPECTED`` file lists every finding the project must yield, of any rule, one a
line: ``RULE SEVERITY PATH:LINE:COLUMN message fragment`` (PATH relative to the project). An
empty file means the project must be clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from mse_lint.core.catalog import Catalog
from mse_lint.core.settings import Settings
from mse_lint.pipeline.runner import lint

FIXTURES = Path(__file__).parent / "fixtures" / "config"
PROJECTS = sorted(p for p in FIXTURES.iterdir() if (p / "mse.toml").is_file())


def expected(project: Path) -> list[tuple[str, str, str, int, int, str]]:
    out = []
    for raw in (project / "EXPECTED").read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        rule, sev, where, *fragment = raw.split(" ", 3)
        path, line, col = where.rsplit(":", 2)
        out.append((rule, sev, path, int(line), int(col), " ".join(fragment)))
    return sorted(out)


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_project_findings(project: Path, catalog: Catalog) -> None:
    outcome = lint([project], catalog, Settings(), cwd=project)
    got = sorted(
        (d.rule, d.severity.label[0].upper(), d.path, d.span.line, d.span.col, d.message)
        for d in outcome.diagnostics
    )
    want = expected(project)
    shown = "\n".join(f"  {r} {s} {p}:{ln}:{c} {m}" for r, s, p, ln, c, m in got)
    assert [g[:5] for g in got] == [w[:5] for w in want], f"{project.name} found:\n{shown}"
    for g, w in zip(got, want):
        assert w[5] in g[5], f"{project.name}: {w[5]!r} not in {g[5]!r}"
