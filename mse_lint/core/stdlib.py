"""The standard library's top-level module names for a target Python (data: rules/stdlib.toml)."""

from __future__ import annotations

from mse_lint.core.catalog import Catalog


def stdlib_modules(catalog: Catalog, version: tuple[int, int]) -> frozenset[str]:
    """Top-level stdlib modules of CPython ``version``; a version outside the catalogue's range
    takes the nearest one listed."""
    data = catalog.data("stdlib")
    extra = data.get("extra", {})
    known = sorted(tuple(int(p) for p in key.split(".")) for key in extra)
    if not known:
        return frozenset(data.get("common", ()))
    nearest = min(known, key=lambda v: (abs(v[0] * 100 + v[1] - version[0] * 100 - version[1]), v))
    key = f"{nearest[0]}.{nearest[1]}"
    return frozenset(data.get("common", ())) | frozenset(extra.get(key, ()))
