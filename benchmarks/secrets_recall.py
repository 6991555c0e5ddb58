"""Recall and false alarms of mse-lint's secrets rules on a labelled set of credential cases,
next to detect-secrets on the same files in the same run.

    python benchmarks/secrets_recall.py [--cases FILE] [--keep DIR] [--no-peer]

The cases are in benchmarks/secrets_cases.toml (see its header): every catalogued credential
format, mse-lint's MSE201 / MSE203 constructs, a few credentials of formats mse-lint does not
catalogue, and look-alikes (UUIDs, hashes, base64 of non-secrets, placeholders, documentation
examples). Each case is written to its own file; a case counts as found by a tool when the tool
reports anything in that file (mse-lint: a finding of MSE201-MSE210; detect-secrets: a result
of any plugin with its default settings, run from the folder, as it only scans below its
working directory). A look-alike that a tool reports is a false alarm.

mse-lint runs as a whole process, `mse-lint check DIR --isolated --select MSE2`, the one next
to this interpreter; detect-secrets as `python -m detect_secrets scan --all-files .` with this
interpreter (`pip install detect-secrets`; without it, its column says n/a). Nothing is timed.
tests/test_secrets_recall.py uses the same functions for mse-lint alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.9 / 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
CASES = HERE / "secrets_cases.toml"

Case = Mapping[str, Any]
# file name -> what the tool said about it (messages for mse-lint, plugin names for the peer)
Found = dict[str, list[str]]


def load_cases(path: Path = CASES) -> list[Case]:
    with path.open("rb") as fh:
        cases: list[Case] = tomllib.load(fh)["cases"]
    return cases


def file_name(index: int, case: Case) -> str:
    return f"case_{index:03d}_{case['id'].replace('-', '_')}.py"


def write_cases(cases: Sequence[Case], folder: Path) -> list[str]:
    """One file per case; their names, in the order of the cases."""
    names = []
    for i, case in enumerate(cases):
        name = file_name(i, case)
        (folder / name).write_text(case["source"], encoding="utf-8")
        names.append(name)
    return names


def default_mse_lint() -> list[str]:
    beside = Path(sys.executable).parent / "mse-lint"
    if beside.is_file():
        return [str(beside)]
    return [sys.executable, "-m", "mse_lint"]


def mse_lint_findings(folder: Path, command: Optional[Sequence[str]] = None) -> Found:
    """mse-lint's secrets findings per file of ``folder`` (file name -> "RULE message")."""
    cmd = [*(command or default_mse_lint()), "check", str(folder), "--isolated"]
    cmd += ["--select", "MSE2", "--format", "json", "--no-cache", "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"mse-lint exited with {done.returncode}: {done.stderr.strip()}")
    found: Found = {}
    for finding in json.loads(done.stdout):
        name = Path(finding["path"]).name
        found.setdefault(name, []).append(f"{finding['rule']} {finding['message']}")
    return found


def detect_secrets_available() -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "detect_secrets", "--version"], capture_output=True, text=True
    )
    return done.returncode == 0


def detect_secrets_findings(folder: Path) -> Found:
    """detect-secrets' results per file (file name -> plugin types), default plugins and
    filters, run from ``folder``."""
    done = subprocess.run(
        [sys.executable, "-m", "detect_secrets", "scan", "--all-files", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"detect-secrets exited with {done.returncode}: {done.stderr.strip()}")
    results = json.loads(done.stdout)["results"]
    return {Path(name).name: [r["type"] for r in found] for name, found in results.items()}


class Score:
    """Counts for one tool: positives found (all, and those mse-lint catalogues), false alarms
    on look-alikes, and the names of the cases missed or wrongly reported."""

    def __init__(self, cases: Sequence[Case], names: Sequence[str], found: Found) -> None:
        self.positives = [(c, n) for c, n in zip(cases, names) if c["label"] == "secret"]
        self.negatives = [(c, n) for c, n in zip(cases, names) if c["label"] == "none"]
        self.missed = [c["id"] for c, n in self.positives if n not in found]
        self.missed_catalogued = [
            c["id"] for c, n in self.positives if c["catalogued"] and n not in found
        ]
        self.false_alarms = [c["id"] for c, n in self.negatives if n in found]
        self.catalogued = sum(1 for c, _ in self.positives if c["catalogued"])

    @property
    def recall(self) -> float:
        return 1 - len(self.missed) / len(self.positives) if self.positives else 1.0

    @property
    def recall_catalogued(self) -> float:
        if not self.catalogued:
            return 1.0
        return 1 - len(self.missed_catalogued) / self.catalogued


def wrong_formats(
    cases: Sequence[Case], names: Sequence[str], found: Found, format_names: Mapping[str, str]
) -> list[str]:
    """The format cases that mse-lint did not report as MSE202 under that format's name."""
    wrong = []
    for case, name in zip(cases, names):
        fid = case.get("format")
        if fid and not any(
            m.startswith(f"MSE202 {format_names[fid]} ") for m in found.get(name, ())
        ):
            wrong.append(case["id"])
    return wrong


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--keep", type=Path, help="write the case files here and keep them")
    parser.add_argument("--no-peer", action="store_true", help="do not run detect-secrets")
    args = parser.parse_args(argv)

    cases = load_cases(args.cases)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="mse-lint-recall-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        names = write_cases(cases, folder)
        tools: dict[str, Optional[Score]] = {
            "mse-lint": Score(cases, names, mse_lint_findings(folder))
        }
        if not args.no_peer:
            tools["detect-secrets"] = (
                Score(cases, names, detect_secrets_findings(folder))
                if detect_secrets_available()
                else None
            )
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)

    first = tools["mse-lint"]
    assert first is not None
    print(
        f"{len(first.positives)} credentials ({first.catalogued} of formats or constructs "
        f"mse-lint catalogues), {len(first.negatives)} look-alikes\n"
    )
    print("| tool | recall | recall, catalogued | false alarms |")
    print("|---|---|---|---|")
    for tool, score in tools.items():
        if score is None:
            print(f"| {tool} | n/a | n/a | n/a |")
            continue
        print(
            f"| {tool} | {score.recall:.2f} ({len(score.positives) - len(score.missed)}"
            f"/{len(score.positives)}) | {score.recall_catalogued:.2f} | "
            f"{len(score.false_alarms)}/{len(score.negatives)} |"
        )
    for tool, score in tools.items():
        if score is not None:
            print(f"\n{tool} missed: {', '.join(score.missed) or '-'}")
            print(f"{tool} false alarms: {', '.join(score.false_alarms) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
