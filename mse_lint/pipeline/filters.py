"""The one filter chain from what the checks found to what the run reports and exits on.

Each step is a pure function of findings and the facts it needs (no reading, no printing), and
they apply in this order:

1. :func:`enabled_only`: the rules the settings select (``select``, ``extend-select``,
   ``ignore``);
2. :func:`with_severities`: the settings' severity overrides;
3. :func:`suppress`: the file's suppression comments (``# mse-lint: ignore[...]``, ``noqa``),
   which splits the findings into kept and suppressed;
4. :func:`unused_suppressions`: MSE003 for a comment's code that covered nothing;
5. :func:`without_baseline`: the findings a ``--baseline`` file records are not reported;
6. :func:`fails`: whether what is left reaches ``--fail-on`` (the exit code).

Steps 1 to 4 run per file in the engine (:func:`file_findings` chains them), so the cache keeps
a file's final results; steps 5 and 6 run on the whole run's findings in the command.
:func:`in_paths` narrows a project's findings to the files named on the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Optional

from mse_lint.core.diagnostics import Diagnostic, Severity, Span
from mse_lint.core.record import replace
from mse_lint.pipeline import suppressions as sup
from mse_lint.pipeline.suppressions import Suppression

SeverityOf = Callable[[str, Severity], Severity]


def enabled_only(found: Iterable[Diagnostic], enabled: Collection[str]) -> list[Diagnostic]:
    """Step 1: the findings of enabled rules."""
    return [d for d in found if d.rule in enabled]


def with_severities(found: Iterable[Diagnostic], severity_of: SeverityOf) -> list[Diagnostic]:
    """Step 2: each finding at the severity the settings give its rule (``severity_of(rule,
    default)``); a finding already at it is kept as it is."""
    out = []
    for d in found:
        sev = severity_of(d.rule, d.severity)
        out.append(d if sev == d.severity else replace(d, severity=sev))
    return out


def suppress(
    found: Iterable[Diagnostic], suppressions: list[Suppression]
) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Step 3: (kept, suppressed). Marks on each suppression the codes it used (step 4 reads
    them)."""
    return sup.apply(found, suppressions)


def unused_suppressions(
    suppressions: list[Suppression],
    enabled: frozenset[str],
    unused_rule: Optional[Diagnostic],
) -> list[Diagnostic]:
    """Step 4: MSE003 at each suppression code that covered no finding of an enabled rule.
    ``unused_rule``: the MSE003 finding to copy (path, severity, message with a ``{codes}``
    slot), None when MSE003 is not enabled."""
    if unused_rule is None or not suppressions:
        return []
    return sup.unused(suppressions, enabled - {unused_rule.rule}, unused_rule)


def unused_template(
    path: str, enabled: Collection[str], catalog: Any, severity_of: SeverityOf
) -> Optional[Diagnostic]:
    """The MSE003 finding :func:`unused_suppressions` copies for ``path``, None when the rule is
    not enabled."""
    if "MSE003" not in enabled:
        return None
    r = catalog.get("MSE003")
    return Diagnostic(
        path,
        Span(1, 1, 1, 2),
        "MSE003",
        severity_of("MSE003", r.severity),
        r.format(codes="{codes}"),
        r.fix,
    )


def file_findings(
    found: Iterable[Diagnostic],
    enabled: frozenset[str],
    severity_of: SeverityOf,
    suppressions: Optional[list[Suppression]],
    unused_rule: Optional[Diagnostic] = None,
) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Steps 1 to 4 for one file: (reported, suppressed). ``suppressions`` None: the file has
    no text to hold comments (it was not decoded); ``unused_rule`` None: no MSE003 for it."""
    diags = with_severities(enabled_only(found, enabled), severity_of)
    if suppressions is None:
        return diags, []
    kept, suppressed = suppress(diags, suppressions)
    kept.extend(unused_suppressions(suppressions, enabled, unused_rule))
    return kept, suppressed


def without_baseline(
    found: Sequence[Diagnostic], current: Sequence[Any], known: frozenset[Any]
) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Step 5: (new, baselined). ``current`` is each finding's baseline entry, in order
    (mse_lint.pipeline.baseline.entries); ``known``: the entries the baseline file records."""
    new: list[Diagnostic] = []
    old: list[Diagnostic] = []
    for d, e in zip(found, current):
        (old if e in known else new).append(d)
    return new, old


def fails(found: Iterable[Diagnostic], fail_on: Severity) -> bool:
    """Step 6: whether a finding is at least as serious as ``fail_on`` (exit code 1)."""
    worst = max((d.severity for d in found), default=None)
    return worst is not None and worst >= fail_on


def in_paths(found: Iterable[Diagnostic], shown: Collection[str]) -> list[Diagnostic]:
    """The findings about the files shown as ``shown``."""
    return [d for d in found if d.path in shown]
