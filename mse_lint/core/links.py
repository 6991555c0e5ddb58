"""Where a rule's documentation lives online: SARIF's helpUri and the console's hyperlinks.

One scheme: ``<base>/<ID>.md``. The default base is the repository's ``docs/rules`` folder at the
tag of the running version, so a link always shows the page that matches the rules the user ran
(the catalogue generates those pages). ``MSE_LINT_DOCS_URL`` replaces the base, e.g. for a fork or
an internal mirror."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from mse_lint import __version__

# Also in pyproject.toml's [project.urls]; a test keeps the two equal.
REPOSITORY_URL = "https://github.com/Cosmian/mse-lint"
DOCS_URL_ENV = "MSE_LINT_DOCS_URL"


def default_docs_base(version: str = __version__) -> str:
    return f"{REPOSITORY_URL}/blob/v{version}/docs/rules"


def docs_base(environ: Optional[Mapping[str, str]] = None) -> str:
    """The base URL of the rule pages: ``$MSE_LINT_DOCS_URL`` when set, else the default."""
    import os

    env = os.environ if environ is None else environ
    custom = env.get(DOCS_URL_ENV, "").strip()
    return custom.rstrip("/") if custom else default_docs_base()


def rule_url(base: str, rule_id: str) -> str:
    return f"{base.rstrip('/')}/{rule_id}.md"
