"""MSE601-MSE603 as a user sees them: exact messages and spans, and what the project (its
requirements.txt, its docker image) changes. Annotated fixtures: tests/fixtures/runtime/."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Span
from mse_lint.core.settings import Settings
from mse_lint.pipeline.runner import lint
from mse_lint.project.requirements import requirement_names

PARIS = 'from zoneinfo import ZoneInfo\n\nPARIS = ZoneInfo("Europe/Paris")\n'


def make(
    tmp_path: Path,
    app: str,
    requirements: Optional[str] = None,
    docker: str = "mse-flask",
    tag: str = "20230810125234",
) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mse_src").mkdir()
    (root / "mse.toml").write_text(
        'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "/"\n'
        f'[cloud]\ncode = "mse_src"\ndocker = "ghcr.io/cosmian/{docker}:{tag}"\n'
        'project = "default"\nhardware = "4g-eu-001"\n'
    )
    (root / "mse_src" / "app.py").write_text(app)
    if requirements is not None:
        (root / "mse_src" / "requirements.txt").write_text(requirements)
    return root


def found(catalog: Catalog, root: Path) -> list[tuple[str, Span, str]]:
    outcome = lint([root], catalog, Settings(select=("MSE6",)), cwd=root)
    return [(d.rule, d.span, d.message) for d in outcome.diagnostics]


def test_signal_handler_message(tmp_path: Path, catalog: Catalog) -> None:
    app = "import signal\n\n\ndef stop(*args):\n    pass\n\n\nsignal.signal(signal.SIGTERM, stop)\n"
    assert found(catalog, make(tmp_path, app)) == [
        (
            "MSE601",
            Span(8, 1, 8, 36),
            "`signal.signal(...)` installs a handler for SIGTERM that never runs in the enclave: "
            "host signals (SIGTERM included) are not delivered; outside the main thread (a WSGI "
            "request thread) it also raises ValueError",
        )
    ]


def test_thread_count_message(tmp_path: Path, catalog: Catalog) -> None:
    app = "import torch\n\ntorch.set_num_threads(512)\n"
    assert found(catalog, make(tmp_path, app)) == [
        (
            "MSE602",
            Span(3, 1, 3, 27),
            "`torch.set_num_threads(512)` asks for 512 threads; with the server's own (about 40) "
            "that passes the enclave's limit of 256 threads, and starting one more fails with "
            "RuntimeError: can't start new thread",
        )
    ]


def test_zoneinfo_without_tzdata(tmp_path: Path, catalog: Catalog) -> None:
    assert found(catalog, make(tmp_path, PARIS, "flask==2.2.5\n")) == [
        (
            "MSE603",
            Span(3, 9, 3, 33),
            "`ZoneInfo('Europe/Paris')` needs the time-zone database: the enclave has only UTC, "
            "and neither requirements.txt nor the docker image installs `tzdata`, so it raises "
            "ZoneInfoNotFoundError",
        )
    ]


def test_tzdata_in_requirements_or_image(tmp_path: Path, catalog: Catalog) -> None:
    assert found(catalog, make(tmp_path / "a", PARIS, "flask==2.2.5\ntzdata==2023.3\n")) == []
    assert found(catalog, make(tmp_path / "b", PARIS, "Tzdata>=2023 ; python_version>'3'\n")) == []
    # pandas 2 in mse-anonymization brings tzdata along
    assert found(catalog, make(tmp_path / "c", PARIS, docker="mse-anonymization")) == []
    assert [r for r, _, _ in found(catalog, make(tmp_path / "d", PARIS, docker="mse-ds"))] == [
        "MSE603"
    ]


def test_tzdata_follows_the_image_tag_date(tmp_path: Path, catalog: Catalog) -> None:
    # mse-anonymization carried pandas 1.5.2 (no tzdata) until its 20230810124352 rebuild on
    # pandas 2.0.3, which depends on tzdata
    early = make(tmp_path / "a", PARIS, docker="mse-anonymization", tag="20230228091120")
    assert [r for r, _, _ in found(catalog, early)] == ["MSE603"]
    late = make(tmp_path / "b", PARIS, docker="mse-anonymization", tag="20230810124352")
    assert found(catalog, late) == []
    latest = make(tmp_path / "c", PARIS, docker="mse-anonymization", tag="latest")
    assert found(catalog, latest) == []  # what a pull gives today: the newest era


def test_requirement_names() -> None:
    lines = [
        "Flask_Cors==3.0.10",
        "scikit.learn>=1",
        "x_y @ git+https://example.org/x.git",
        "tzdata",
        'backports.zoneinfo; python_version < "3.9"',
    ]
    assert requirement_names(lines, (3, 10)) == ["flask-cors", "scikit-learn", "x-y", "tzdata"]
    assert "backports-zoneinfo" in requirement_names(lines, (3, 8))


def test_which_used_as_a_path_and_as_a_test(tmp_path: Path, catalog: Catalog) -> None:
    app = (
        "import shutil\n"
        "import pydub\n\n"
        'pydub.AudioSegment.converter = shutil.which("ffmpeg")\n'
        'HAS_TESSERACT = shutil.which("tesseract") is not None\n'
    )
    result = found(catalog, make(tmp_path, app))
    assert [(r, s) for r, s, _ in result] == [("MSE603", Span(4, 32, 4, 54))]
    assert result[0][2].startswith("`shutil.which('ffmpeg')` always returns None in the enclave")
