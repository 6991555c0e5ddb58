"""The dated image catalogue (rules/shipping.toml `[[images]]`): what each Cosmian image family
carries at the date of its tag, as MSE504 and MSE507 see it.

Each project under tests/fixtures/images is a demo-like app on one image family and tag era; its
``EXPECTED`` file lists every finding it must yield (``RULE SEVERITY PATH:LINE:COLUMN message
fragment``; empty: clean). The vendor's demo apps import Flask, Flask-Cors and Flask-SQLAlchemy
on mse-ds and mse-tensorflow, and scikit-learn only on mse-ds images from May 2023 on."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest
from helpers import mse_lint_command

from mse_lint.checks.distributions import Distributions, image_tag
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic
from mse_lint.core.settings import Settings
from mse_lint.pipeline.runner import lint

FIXTURES = Path(__file__).parent / "fixtures" / "images"
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
def test_image_project(project: Path, catalog: Catalog) -> None:
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


def test_every_family_and_era_has_a_fixture(catalog: Catalog) -> None:
    """One project per era of every family that has more than the MSE runtime."""
    dists = Distributions(catalog)
    covered = set()
    for project in PROJECTS:
        text = (project / "mse.toml").read_text(encoding="utf-8")
        image = text.split('docker = "', 1)[1].split('"', 1)[0]
        packages = dists.image_packages(image)
        assert packages is not None, image
        covered.add((image.rsplit("/", 1)[-1].split(":")[0], packages))
    wanted = {
        (name, era.packages) for name, eras in dists.images.items() for era in eras if era.packages
    }
    assert wanted - covered == set()


@pytest.mark.parametrize(
    ("project", "code", "findings"),
    [("ds_20230228091517", 1, [("MSE504", 9, 1, 50)]), ("ds_20230810125234", 0, [])],
)
def test_console_script_on_the_two_ds_eras(
    project: str, code: int, findings: list[tuple[str, int, int, int]]
) -> None:
    done = subprocess.run(
        [*mse_lint_command(), "--no-cache", "--format", "json", "."],
        cwd=FIXTURES / project,
        capture_output=True,
        text=True,
    )
    assert done.returncode == code, done.stderr
    got = json.loads(done.stdout)
    assert [(f["rule"], f["line"], f["column"], f["end_column"]) for f in got] == findings
    if got:
        assert got[0]["severity"] == "warning"
        assert got[0]["message"] == (
            "`sklearn.linear_model` comes from the distribution `scikit-learn`, which is neither "
            "in requirements.txt (none ships at the top of the code dir) nor in the docker image "
            "`mse-ds` (flask 2.2.2, flask-cors 3.0.10, flask-sqlalchemy 3.0.2, pandas 1.5.3, "
            "numpy 1.24.2, scipy 1.10.1); importing it raises ModuleNotFoundError in the enclave"
        )


# ------------------------------------------------------------------------------------------------
# how a tag resolves to an era
# ------------------------------------------------------------------------------------------------
def _names(packages: Optional[tuple[tuple[str, str], ...]]) -> Optional[list[str]]:
    return None if packages is None else [p for p, _ in packages]


@pytest.mark.parametrize(
    ("tag", "sklearn"),
    [
        ("20230228091517", False),
        ("20230430235959", False),
        ("20230501000000", True),  # the era's first tag is in it
        ("20230810125234", True),
        (None, True),  # untagged: what a pull gives today
        ("latest", True),
        ("3cc9b3cee287959323453223ab5af1aeb5d2db5e", True),  # the workflows' commit tag
        ("2023-05-01", True),  # not a build date: the newest era too
    ],
)
def test_ds_tag_resolves_to_its_era(catalog: Catalog, tag: Optional[str], sklearn: bool) -> None:
    image = "ghcr.io/cosmian/mse-ds" + (f":{tag}" if tag else "")
    names = _names(Distributions(catalog).image_packages(image))
    assert names is not None
    assert ("scikit-learn" in names) is sklearn
    assert {"flask", "flask-cors", "flask-sqlalchemy", "pandas", "numpy", "scipy"} <= set(names)


def test_digest_and_registry_forms(catalog: Catalog) -> None:
    dists = Distributions(catalog)
    by_digest = dists.image_packages("ghcr.io/cosmian/mse-ds:20230228091517@sha256:0123")
    assert "scikit-learn" not in (_names(by_digest) or [])
    assert _names(dists.image_packages("mse-ds@sha256:0123")) == _names(
        dists.image_packages("mse-ds:latest")
    )
    assert dists.image_packages("ghcr.io/cosmian/mse-pytorch:20230228091413") is None
    assert image_tag("localhost:5000/mse-ds") is None
    assert image_tag("localhost:5000/mse-ds:20230228091517") == "20230228091517"


def _catalog_with(images: list[dict[str, Any]], base: Catalog) -> Catalog:
    families = dict(base.families)
    families["shipping"] = {**base.data("shipping"), "images": images}
    return Catalog(base.rules, families)


def test_a_tag_older_than_a_dated_first_era_is_not_known(catalog: Catalog) -> None:
    dated = _catalog_with(
        [{"name": "mse-x", "eras": [{"from": "20230110175558", "packages": ["flask==2.2.2"]}]}],
        catalog,
    )
    dists = Distributions(dated)
    assert dists.image_packages("ghcr.io/cosmian/mse-x:20230104085621") is None
    assert _names(dists.image_packages("ghcr.io/cosmian/mse-x:20230110175558")) == ["flask"]
    assert _names(dists.image_packages("ghcr.io/cosmian/mse-x")) == ["flask"]


def test_eras_are_ordered_by_their_start_whatever_the_file_order(catalog: Catalog) -> None:
    shuffled = _catalog_with(
        [
            {
                "name": "mse-x",
                "eras": [
                    {"from": "20230801000000", "packages": ["b==2"]},
                    {"packages": ["a==1"]},
                ],
            }
        ],
        catalog,
    )
    dists = Distributions(shuffled)
    assert _names(dists.image_packages("mse-x:20230101000000")) == ["a"]
    assert _names(dists.image_packages("mse-x:20230901000000")) == ["b"]
    assert _names(dists.image_packages("mse-x:latest")) == ["b"]


def test_pinned_pandas_1_brings_no_tzdata(catalog: Catalog) -> None:
    dists = Distributions(catalog)
    early = dists.image_distributions("ghcr.io/cosmian/mse-anonymization:20230228091120")
    late = dists.image_distributions("ghcr.io/cosmian/mse-anonymization:20230810124352")
    assert early is not None and late is not None
    assert "pandas" in early and "tzdata" not in early
    assert "tzdata" in late and "pyhumps" in late
    # an unpinned pandas (a requirement) is taken at its newest: it brings tzdata
    assert "tzdata" in dists.closure(["pandas"])


# ------------------------------------------------------------------------------------------------
# MSE507 counts the dated lists too
# ------------------------------------------------------------------------------------------------
def _memory(catalog: Catalog, tmp_path: Path, tag: str) -> list[Diagnostic]:
    root = tmp_path / tag
    (root / ".git").mkdir(parents=True)
    (root / "mse_src").mkdir()
    (root / "mse_src" / "app.py").write_text("app = None\n")
    (root / "mse.toml").write_text(
        'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "/"\n'
        f'[cloud]\ncode = "mse_src"\ndocker = "ghcr.io/cosmian/mse-ds:{tag}"\n'
        'project = "default"\nhardware = "512m-eu-001"\n'
    )
    outcome = lint([root], catalog, Settings(select=("MSE507",)), cwd=root)
    return list(outcome.diagnostics)


def test_memory_budget_follows_the_tag_date(catalog: Catalog, tmp_path: Path) -> None:
    [early] = _memory(catalog, tmp_path, "20230228091517")
    [late] = _memory(catalog, tmp_path, "20230810125234")
    assert early.message == (
        "the code dir (11 B) and the libraries (~330.0 MiB: scipy ~120.0 MiB, pandas ~70.0 MiB, "
        "numpy ~40.0 MiB) take about 330.0 MiB of the 512.0 MiB of `512m-eu-001` (64%, over "
        "50%) before the app allocates anything"
    )
    assert late.message == (
        "the code dir (11 B) and the libraries (~375.0 MiB: scipy ~120.0 MiB, pandas ~70.0 MiB, "
        "scikit-learn ~45.0 MiB, numpy ~40.0 MiB) take about 375.0 MiB of the 512.0 MiB of "
        "`512m-eu-001` (73%, over 50%) before the app allocates anything"
    )
