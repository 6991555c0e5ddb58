"""The filter chain (mse_lint.pipeline.filters) step by step, and a finding's fix through the
cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from mse_lint.core.catalog import Catalog, load_catalog
from mse_lint.core.diagnostics import Diagnostic, Edit, Fix, Notice, Severity, Span
from mse_lint.core.settings import Settings
from mse_lint.pipeline import cache as cache_mod
from mse_lint.pipeline import filters
from mse_lint.pipeline import suppressions as suppress
from mse_lint.pipeline.cache_entry import EntryRules, decode, encode


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def finding(
    rule: str, line: int, severity: Severity = Severity.ERROR, path: str = "a.py"
) -> Diagnostic:
    return Diagnostic(path, Span(line, 1, line, 2), rule, severity, "m", None, line)


SOURCE = "import os\nos.system('x')  # mse-lint: ignore[MSE101]\nprint(1)  # noqa: MSE102\n"


def test_each_step_in_order(catalog: Catalog) -> None:
    settings = Settings(
        extend_select=("MSE003",), ignore=("MSE105",), severity={"MSE102": Severity.INFO}
    )
    enabled = settings.enabled(catalog)
    found = [finding("MSE101", 2), finding("MSE105", 2), finding("MSE102", 4)]
    kept = filters.enabled_only(found, enabled)
    assert [d.rule for d in kept] == ["MSE101", "MSE102"]
    kept = filters.with_severities(kept, settings.severity_of)
    assert [d.severity for d in kept] == [Severity.ERROR, Severity.INFO]
    assert kept[0] is found[0]  # unchanged findings are not copied
    sups, notices = suppress.parse(SOURCE, "a.py")
    assert notices == []
    kept, suppressed = filters.suppress(kept, sups)
    assert [d.rule for d in suppressed] == ["MSE101"] and [d.rule for d in kept] == ["MSE102"]
    template = filters.unused_template("a.py", enabled, catalog, settings.severity_of)
    unused = filters.unused_suppressions(sups, enabled, template)
    assert [(d.rule, d.span.line) for d in unused] == [("MSE003", 3)]  # the noqa covered nothing
    assert "MSE102" in unused[0].message
    assert filters.unused_suppressions(sups, enabled, None) == []
    # the chained form gives the same
    chained = filters.file_findings(found, enabled, settings.severity_of, sups, template)
    assert chained == ([*kept, *unused], suppressed)
    # no text (a file not decoded): no suppressions apply
    assert filters.file_findings(found, enabled, settings.severity_of, None)[1] == []


def test_baseline_and_fail_on() -> None:
    found = [finding("MSE101", 1), finding("MSE102", 2, Severity.WARNING)]
    new, old = filters.without_baseline(found, ["e1", "e2"], frozenset({"e1"}))
    assert (new, old) == ([found[1]], [found[0]])
    assert filters.fails(new, Severity.WARNING)
    assert not filters.fails(new, Severity.ERROR)
    assert not filters.fails([], Severity.INFO)
    assert filters.in_paths([*found, finding("MSE101", 1, path="b.py")], {"b.py"})[0].path == "b.py"


def test_unused_template_only_when_mse003_runs(catalog: Catalog) -> None:
    enabled = Settings().enabled(catalog)  # MSE003 is off by default
    assert filters.unused_template("a.py", enabled, catalog, Settings().severity_of) is None
    on = Settings(extend_select=("MSE003",))
    template = filters.unused_template("a.py", on.enabled(catalog), catalog, on.severity_of)
    assert template is not None and template.rule == "MSE003" and "{codes}" in template.message


def with_fix(path: str = "a.py") -> Diagnostic:
    edit = Edit(path, Span(2, 1, 2, 15), "pass")
    insert = Edit(path, Span(1, 1, 1, 1), "# mended\n")
    fix = Fix("replace the call", (edit, insert), safe=True)
    d = finding("MSE101", 2, path=path)
    return Diagnostic(d.path, d.span, d.rule, d.severity, d.message, d.fix, 2, autofix=fix)


def rules_of(catalog: Catalog) -> EntryRules:
    settings = Settings()
    return EntryRules(catalog, settings.enabled(catalog), settings.severity_of)


def catalogued_with_fix(catalog: Catalog) -> tuple[Diagnostic, Diagnostic]:
    """A finding with a fix, and the same finding as the catalogue would word it (what the
    cache's entry check accepts)."""
    rule = catalog.get("MSE101")
    base = with_fix()
    return base, Diagnostic(
        base.path,
        base.span,
        "MSE101",
        rule.severity,
        rule.message,
        rule.fix,
        2,
        autofix=base.autofix,
    )


def test_a_fix_survives_the_cache_round_trip(tmp_path: Path, catalog: Catalog) -> None:
    base, d = catalogued_with_fix(catalog)
    data = SOURCE.encode()
    folder = tmp_path / "cache"
    written = cache_mod.ResultCache(folder, "0" * 32, rules_of(catalog))
    written.put("k", encode([d], [], [Notice("n", "a.py", 1)], True))
    written.save()
    read = cache_mod.ResultCache(folder, "0" * 32, rules_of(catalog))
    hit = read.get("k", "a.py", data)
    assert hit is not None
    assert hit[0] == [d] and hit[0][0].autofix == base.autofix
    assert hit[0][0].autofix is not None and hit[0][0].autofix.safe


@pytest.mark.parametrize(
    "damage",
    [
        lambda fix: fix.__setitem__(1, "yes"),  # safe is a bool
        lambda fix: fix[2][0].__setitem__(0, "other.py"),  # an edit of another file
        lambda fix: fix[2][0].__setitem__(1, 99),  # a line past the file's end
        lambda fix: fix[2][0].__setitem__(5, 7),  # the replacement is text
        lambda fix: fix[2].append([1, 2]),  # an edit of the wrong shape
    ],
    ids=["safe", "path", "line", "text", "shape"],
)
def test_a_damaged_fix_is_a_miss(catalog: Catalog, damage: object) -> None:
    _, d = catalogued_with_fix(catalog)
    entry = encode([d], [], [], True)
    assert decode(entry, "a.py", SOURCE.encode(), rules_of(catalog))[0] == [d]
    damage(entry[0][0][11])  # type: ignore[operator]
    with pytest.raises((ValueError, TypeError)):
        decode(entry, "a.py", SOURCE.encode(), rules_of(catalog))
    short = encode([d], [], [], True)
    short[0][0].pop()  # an entry of the format before fixes
    with pytest.raises(ValueError):
        decode(short, "a.py", SOURCE.encode(), rules_of(catalog))
