"""Rule documentation generated from the catalogue: `mse-lint explain` and docs/rules/*.md.

`python -m mse_lint.report.rule_docs` rewrites docs/rules/ and the compiled catalogue
(rules/catalog.json); tests fail when either drifts from the rules/*.toml files."""

from __future__ import annotations

import sys
from pathlib import Path

from mse_lint.core.catalog import Catalog, Rule, load_catalog, write_compiled


def rule_markdown(rule: Rule) -> str:
    state = (
        "" if rule.enabled else " (off by default: enable with `--extend-select " + rule.id + "`)"
    )
    parts = [
        f"# {rule.id} {rule.name}\n",
        f"Severity: **{rule.severity.label}**{state}. Family: {rule.family}.\n",
        f"{rule.summary}.\n",
        rule.explanation + "\n",
        f"**Fix hint shown with each finding.** {rule.fix}\n",
    ]
    flagged = "Flagged"
    if rule.bad_repeat > 1:
        flagged += f" (the lines below repeated {rule.bad_repeat:,} times in one file)"
    for title, examples in ((flagged, rule.bad), ("Not flagged", rule.good)):
        for ex in examples:
            parts.append(f"## {title}\n\n```python\n{ex.rstrip()}\n```\n")
    parts.append(
        f"Suppress one finding with `# mse-lint: ignore[{rule.id}] -- reason` on its line.\n"
    )
    return "\n".join(parts)


def index_markdown(catalog: Catalog) -> str:
    rows = ["# Rules\n", "| ID | name | severity | summary |", "|---|---|---|---|"]
    for r in catalog.sorted_rules():
        sev = r.severity.label + ("" if r.enabled else " (off)")
        rows.append(f"| [{r.id}]({r.id}.md) | {r.name} | {sev} | {r.summary} |")
    return "\n".join(rows) + "\n"


def pages(catalog: Catalog) -> dict[str, str]:
    out = {f"{r.id}.md": rule_markdown(r) for r in catalog.sorted_rules()}
    out["README.md"] = index_markdown(catalog)
    return out


def main() -> int:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/rules")
    target.mkdir(parents=True, exist_ok=True)
    wanted = pages(load_catalog())
    for stale in target.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        (target / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} pages to {target}")
    print(f"wrote {write_compiled()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
