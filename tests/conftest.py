from __future__ import annotations

import pytest

from mse_lint.catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The shipped rule catalogue, loaded once per test session."""
    return load_catalog()
