"""MSE301-MSE308 on whole projects (tmp_path): MSE305 needs the manifest of what ships, and
`__file__` is placed in the code dir. The other rules have annotated fixtures in
tests/fixtures/paths/."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Optional

import pytest
from helpers import mse_lint_command

from mse_lint.core.catalog import Catalog
from mse_lint.core.settings import Settings
from mse_lint.pipeline.runner import lint

TOML = (
    'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "/"\n'
    'tests_cmd = "pytest"\ntests_requirements = ["pytest==7.2.0"]\n'
    '[cloud]\ncode = "mse_src"\ntests = "tests"\n'
    'docker = "ghcr.io/cosmian/mse-flask:20230810125234"\nproject = "default"\n'
    'hardware = "4g-eu-001"\n'
)
HEAD = "import json\nimport os\nfrom pathlib import Path\n\nHERE = Path(__file__).parent\n"


def make(tmp_path: Path, files: dict[str, str], mseignore: Optional[str] = None) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)  # stop config discovery here
    (root / "mse_src").mkdir()
    (root / "tests").mkdir()
    (root / "mse.toml").write_text(TOML)
    if mseignore is not None:
        (root / "mse_src" / ".mseignore").write_text(mseignore)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def found(catalog: Catalog, root: Path, prefix: str = "MSE3") -> list[tuple[str, str, int, int]]:
    outcome = lint([root], catalog, Settings(), cwd=root)
    return [
        (d.rule, d.path, d.span.line, d.span.col)
        for d in outcome.diagnostics
        if d.rule.startswith(prefix)
    ]


def test_file_excluded_by_mseignore_is_reported_where_it_is_read(
    tmp_path: Path, catalog: Catalog
) -> None:
    root = make(
        tmp_path,
        {
            "mse_src/model/config.json": "{}",
            "mse_src/model/weights.bin": "w",
            "mse_src/app.py": HEAD
            + 'CONFIG = json.loads((HERE / "model" / "config.json").read_text())\n'
            + 'WEIGHTS = (HERE / "model" / "weights.bin").read_bytes()\n',
        },
        mseignore="config.json\n",
    )
    assert found(catalog, root) == [("MSE305", "mse_src/app.py", 6, 21)]
    outcome = lint([root], catalog, Settings(), cwd=root)
    (d,) = [d for d in outcome.diagnostics if d.rule == "MSE305"]
    assert "/mse-app/model/config.json" in d.message
    assert "is excluded by .mseignore" in d.message


def test_hidden_env_file_read_through_module_path(tmp_path: Path, catalog: Catalog) -> None:
    root = make(
        tmp_path,
        {
            "mse_src/.env": "A=1\n",
            "mse_src/app.py": HEAD
            + 'ENV = Path(os.environ["MODULE_PATH"], ".env").read_text()\n'
            + 'ENV2 = open(os.path.join(os.getenv("MODULE_PATH"), ".env")).read()\n',
        },
    )
    assert found(catalog, root) == [
        ("MSE305", "mse_src/app.py", 6, 7),
        ("MSE305", "mse_src/app.py", 7, 13),
    ]
    messages = [d.message for d in lint([root], catalog, Settings(), cwd=root).diagnostics]
    assert any("is hidden" in m for m in messages)


def test_under_excluded_or_hidden_folder(tmp_path: Path, catalog: Catalog) -> None:
    """The manifest does not descend into excluded or hidden folders: the ancestor decides."""
    root = make(
        tmp_path,
        {
            "mse_src/data/prices.csv": "a\n",
            "mse_src/.cache/index.json": "{}",
            "mse_src/pkg/__init__.py": "",
            "mse_src/pkg/loader.py": HEAD
            + 'PRICES = open(HERE.parent / "data" / "prices.csv").read()\n'
            + 'INDEX = (HERE.parent / ".cache" / "index.json").read_text()\n',
        },
        mseignore="data\n",
    )
    assert found(catalog, root) == [
        ("MSE305", "mse_src/pkg/loader.py", 6, 15),
        ("MSE305", "mse_src/pkg/loader.py", 7, 9),
    ]


def test_missing_file_and_shipped_ones(tmp_path: Path, catalog: Catalog) -> None:
    root = make(
        tmp_path,
        {
            "mse_src/templates/index.html": "<html/>",
            "mse_src/app.py": HEAD
            + 'PAGE = (HERE / "templates" / "index.html").read_text()\n'  # ships
            + 'FOLDER = list((HERE / "templates").iterdir())\n'  # a shipped folder
            + 'MISSING = (HERE / "templates" / "about.html").read_text()\n'
            + 'CACHE = HERE / "cache.json"\n'
            + "\n\ndef save(x):\n    CACHE.write_text(x)\n\n\n"
            + "def load():\n    return CACHE.read_text()\n",
        },
    )
    # about.html is missing; cache.json is written by the app first (MSE303), so its read is not
    # reported as missing
    assert found(catalog, root) == [
        ("MSE305", "mse_src/app.py", 8, 11),
        ("MSE303", "mse_src/app.py", 13, 5),
    ]


def test_relative_read_of_an_excluded_file_is_both(tmp_path: Path, catalog: Catalog) -> None:
    """A relative read fails anyway (MSE304); MSE305 adds that anchoring it is not enough."""
    root = make(
        tmp_path,
        {
            "mse_src/settings.yaml": "a: 1\n",
            "mse_src/notes.txt": "x\n",
            "mse_src/app.py": 'A = open("settings.yaml").read()\n'
            + 'B = open("notes.txt").read()\n'
            + 'C = open("missing.txt").read()\n',
        },
        mseignore="*.yaml\n",
    )
    assert found(catalog, root) == [
        ("MSE304", "mse_src/app.py", 1, 10),
        ("MSE305", "mse_src/app.py", 1, 10),
        ("MSE304", "mse_src/app.py", 2, 10),
        ("MSE304", "mse_src/app.py", 3, 10),
    ]


def test_file_in_a_subpackage_is_placed_in_the_code_dir(tmp_path: Path, catalog: Catalog) -> None:
    """`__file__` of pkg/mod.py is /mse-app/pkg/mod.py: two parents up is outside the code dir."""
    root = make(
        tmp_path,
        {
            "mse_src/pkg/__init__.py": "",
            "mse_src/pkg/mod.py": HEAD
            + 'A = (HERE / "state.json").write_text("{}")\n'
            + 'B = (HERE.parent / "state.json").write_text("{}")\n'
            + 'C = (HERE.parent.parent / "state.json").write_text("{}")\n',
        },
    )
    assert found(catalog, root) == [
        ("MSE303", "mse_src/pkg/mod.py", 6, 5),
        ("MSE303", "mse_src/pkg/mod.py", 7, 5),
        ("MSE301", "mse_src/pkg/mod.py", 8, 5),
    ]


def test_no_project_no_mse305(tmp_path: Path, catalog: Catalog) -> None:
    """Without mse.toml nothing is known of what ships: MSE305 stays silent."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "app.py").write_text(HEAD + 'X = (HERE / "missing.json").read_text()\n')
    outcome = lint([tmp_path], catalog, Settings(), cwd=tmp_path)
    assert [d.rule for d in outcome.diagnostics if d.rule.startswith("MSE3")] == []


def test_seed_paths_example_is_clean_through_the_cli(tmp_path: Path) -> None:
    seed = (Path(__file__).parent / "fixtures" / "paths" / "seed.py").read_text()
    root = make(tmp_path, {"mse_src/app.py": seed})
    done = subprocess.run(
        [*mse_lint_command(), "check", "--isolated", "--format", "json", str(root)],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize(
    ("line", "rule", "col"),
    [
        ('open("/var/data/out.csv", "w")', "MSE301", 6),
        ('open("out.csv", "w")', "MSE302", 6),
        ('Path(__file__).parent.joinpath("cache.json").write_text("x")', "MSE303", 1),
        ('pd.read_csv("data.csv")', "MSE304", 13),
    ],
)
def test_done_when_cases_in_a_project(
    tmp_path: Path, catalog: Catalog, line: str, rule: str, col: int
) -> None:
    text = "from pathlib import Path\n\nimport pandas as pd\n\n" + line + "\n"
    root = make(tmp_path, {"mse_src/app.py": text, "mse_src/data.csv": "a\n"})
    assert found(catalog, root) == [(rule, "mse_src/app.py", 5, col)]
