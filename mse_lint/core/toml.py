"""The TOML parser of the running Python: ``tomllib`` from 3.11, ``tomli`` before.

Imported on demand (``toml_parser()``), never at the top of a module: a run that reads no TOML
(a one-file run served by the compiled catalogue and the cache) never pays for the import."""

from __future__ import annotations

import sys
from types import ModuleType


def toml_parser() -> ModuleType:
    """The module with ``loads`` and ``TOMLDecodeError``."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli  # pragma: no cover - exercised on 3.9/3.10

    return tomli  # pragma: no cover
