from __future__ import annotations

import pytest

from mse_lint.core.catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The shipped rule catalogue, loaded once per test session."""
    return load_catalog()


@pytest.fixture(autouse=True)
def _cache_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs (in process and CLI subprocesses) keep their caches out of the repository."""
    monkeypatch.setenv("MSE_LINT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
