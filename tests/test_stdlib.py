"""The stdlib module lists (rules/stdlib.toml) agree with the interpreters that have the list."""

from __future__ import annotations

import sys

import pytest

from mse_lint.core.catalog import Catalog
from mse_lint.core.stdlib import stdlib_modules


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.stdlib_module_names is 3.10+")
def test_matches_running_interpreter(catalog: Catalog) -> None:
    version = sys.version_info[:2]
    if version > (3, 13):
        pytest.skip("the catalogue's newest measured list is 3.13")
    assert stdlib_modules(catalog, version) == frozenset(sys.stdlib_module_names)


@pytest.mark.parametrize(
    ("module", "present", "absent"),
    [
        ("tomllib", (3, 11), (3, 10)),
        ("zoneinfo", (3, 9), (3, 8)),
        ("graphlib", (3, 9), (3, 8)),
        ("annotationlib", (3, 14), (3, 13)),
        ("distutils", (3, 11), (3, 12)),
        ("cgi", (3, 12), (3, 13)),
    ],
)
def test_versions_differ(
    catalog: Catalog, module: str, present: tuple[int, int], absent: tuple[int, int]
) -> None:
    assert module in stdlib_modules(catalog, present)
    assert module not in stdlib_modules(catalog, absent)


def test_out_of_range_takes_nearest(catalog: Catalog) -> None:
    assert stdlib_modules(catalog, (3, 7)) == stdlib_modules(catalog, (3, 8))
    assert stdlib_modules(catalog, (3, 20)) == stdlib_modules(catalog, (3, 14))
