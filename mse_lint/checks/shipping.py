"""What ships and what it needs: MSE501 MSE502 MSE503 MSE505 MSE507 (project-level). The
installed-distributions model that MSE504 and MSE507 share is mse_lint.checks.distributions.

- MSE501: each `.mseignore` line read two ways: what a gitignore reader means (``pathspec``)
  and what mse-cli does (``fnmatch`` on basenames, the line verbatim; the manifest).
- MSE502: `.mseignore` files that mse-cli never reads.
- MSE503: shipped virtualenvs, caches, build output, test suites, very large files.
- MSE505: requirements of the top-level requirements.txt without an exact pin.
- MSE507: shipped size plus library footprints against the hardware's memory.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from mse_lint.checks import ProjectContext, project_info
from mse_lint.checks.distributions import Distributions
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import FILE_SPAN, Diagnostic, Span
from mse_lint.core.record import Frozen
from mse_lint.core.safeio import read_regular
from mse_lint.core.settings import Settings
from mse_lint.project.model import Fate, ManifestEntry
from mse_lint.project.requirements import canonical

if TYPE_CHECKING:
    import pathspec

_LISTED = 3  # files named in a message before "and N more"
_PRUNE = frozenset({"node_modules", "site-packages", "__pycache__"})
_HARDWARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mMgGtT])")


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


# ------------------------------------------------------------------------------------------------
class _Junk(Frozen):
    pattern: str
    kind: str
    what: str
    marker: str = ""
    unless: str = ""
    line: str = ""


class ShippingCheck:
    codes = frozenset({"MSE501", "MSE502", "MSE503", "MSE505", "MSE507", "MSE508"})

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings
        data = catalog.data("shipping")
        self.effects: Mapping[str, str] = data.get("mseignore", {})
        self.junk = [
            _Junk(
                r["pattern"],
                r["kind"],
                r["what"],
                r.get("marker", ""),
                r.get("unless", ""),
                r.get("line", ""),
            )
            for r in data.get("junk", [])
        ]
        self.large = int(float(data.get("large_file_mib", 100)) * 1024 * 1024)
        memory: Mapping[str, Any] = data.get("memory", {})
        self.share = float(memory.get("share", 0.5))
        self.runtime = int(float(memory.get("runtime_mib", 0)) * 1024 * 1024)
        self.footprints = {
            canonical(k): int(float(v) * 1024 * 1024) for k, v in data.get("footprints", {}).items()
        }
        self.dists = Distributions(catalog)

    def wants(self, text: str) -> bool:
        return False

    def run(self, ctx: ProjectContext) -> Iterable[Diagnostic]:
        out: list[Diagnostic] = []
        enabled = self.settings.enabled(self.catalog)
        out.extend(self._misplaced(ctx))
        manifest = ctx.manifest
        if manifest is not None:
            code = manifest.code_dir
            shipped = [e for e in manifest.entries if e.fate.ships and not e.is_dir]
            if "MSE501" in enabled:
                out.extend(self._mseignore(ctx, code, manifest.entries))
            if "MSE503" in enabled:
                out.extend(self._junk(ctx, code, shipped))
            if "MSE505" in enabled and any(e.rel == "requirements.txt" for e in shipped):
                out.extend(self._unpinned(ctx, code))
            if "MSE508" in enabled:
                out.extend(self._copy_fails(ctx, code, manifest.entries))
        if "MSE507" in enabled:
            out.extend(self._memory(ctx))
        return out

    # -- MSE508 --------------------------------------------------------------------------------
    def _copy_fails(
        self, ctx: ProjectContext, code: Path, entries: Sequence[ManifestEntry]
    ) -> Iterator[Diagnostic]:
        for e in entries:
            why = _COPY_FAILS.get(e.fate)
            # a listed file copytree cannot open (one access() call per listed file)
            if (
                why is None
                and e.fate is not Fate.EXCLUDED
                and not e.is_dir
                and not os.access(code / e.rel, os.R_OK)
            ):
                why = "a file that cannot be read (permission denied)"
            if why is None:
                continue
            if e.fate in (Fate.BROKEN_LINK, Fate.LINK_LOOP, Fate.SPECIAL) and e.link is not None:
                why = f"{why} (via a symlink to {ctx.display(Path(e.link))})"
            shown = _shown(ctx, code, e.rel)
            yield ctx.diagnostic("MSE508", shown, FILE_SPAN, why=why)

    # -- MSE501 --------------------------------------------------------------------------------
    def _mseignore(
        self, ctx: ProjectContext, code: Path, entries: Sequence[ManifestEntry]
    ) -> Iterator[Diagnostic]:
        path = code / ".mseignore"
        data = ctx.project.read(path, ".mseignore")
        if data is None:
            return
        text = data.decode("utf-8", "surrogateescape")
        import pathspec

        shown = _shown(ctx, code, ".mseignore")
        shipped = [e.rel for e in entries if e.fate.ships and not e.is_dir]
        earlier: list[str] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):
                continue
            kind = _line_kind(raw)
            if kind is None:
                earlier.append(raw)
                continue
            instead = _name_pattern(raw)
            if kind == "negation":
                effect = self.effects.get("negation", "").format(literal=_printable(raw))
                ships, advice = self._negation(raw, earlier, entries, ctx, code, pathspec)
            else:
                effect = self.effects.get(kind, "")
                meant = _gitignore(pathspec, raw)
                hits = [r for r in shipped if meant is not None and meant.match_file(r)]
                ships = ""
                if hits:
                    ships = "; so these ship anyway: " + _listing(ctx, code, hits)
                advice = ""
                if instead:
                    if instead.startswith(".") and not hits:
                        advice = (
                            f"; `{_printable(instead)}` is hidden and never ships anyway: drop "
                            f"the line (or write `{_printable(instead)}`)"
                        )
                    else:
                        advice = (
                            f"; write `{_printable(instead)}` instead (it matches that name at "
                            "every depth"
                        )
                        extra = [
                            r
                            for r in shipped
                            if r not in hits
                            and any(fnmatch.fnmatchcase(c, instead) for c in r.split("/"))
                        ]
                        if extra:
                            advice += ", so it would also exclude " + _listing(ctx, code, extra)
                        advice += ")"
            earlier.append(raw)
            yield ctx.diagnostic(
                "MSE501",
                shown,
                Span(number, 1, number, len(raw) + 1),
                pattern=_printable(raw),
                effect=effect,
                ships=ships,
                advice=advice,
            )

    def _negation(
        self,
        raw: str,
        earlier: Sequence[str],
        entries: Sequence[ManifestEntry],
        ctx: ProjectContext,
        code: Path,
        pathspec: Any,
    ) -> tuple[str, str]:
        """Files a gitignore reader expects back that mse-cli keeps excluded."""
        positive = [e for e in earlier if not e.startswith("!")]
        before = _gitignore(pathspec, *earlier) if positive else None
        after = _gitignore(pathspec, *earlier, raw)
        back = [
            e.rel
            for e in entries
            if e.fate is Fate.EXCLUDED
            and not e.is_dir
            and before is not None
            and after is not None
            and before.match_file(e.rel)
            and not after.match_file(e.rel)
        ]
        if not back:
            return "", "; `!` cannot bring back what an earlier line excludes"
        by = sorted({e.pattern for e in entries if e.rel in back and e.pattern})
        lines = ", ".join(f"`{p}`" for p in by)
        return (
            "; these stay excluded: " + _listing(ctx, code, back),
            f"; narrow {lines} instead, since `!` cannot bring back what it excludes",
        )

    # -- MSE502 --------------------------------------------------------------------------------
    def _misplaced(self, ctx: ProjectContext) -> Iterator[Diagnostic]:
        if "MSE502" not in self.settings.enabled(self.catalog):
            return
        project = ctx.project
        code = project.code_dir
        expected = (code / ".mseignore") if code is not None else None
        real_expected = os.path.realpath(expected) if expected is not None else None
        roots = [project.root]
        if code is not None and not _inside(os.path.realpath(code), os.path.realpath(project.root)):
            roots.append(code)
        seen: set[str] = set()
        for root in roots:
            for found in _find_mseignore(root):
                real = os.path.realpath(found)
                if real == real_expected or real in seen:
                    continue
                seen.add(real)
                try:
                    text = read_regular(found, ".mseignore").decode("utf-8", "replace")
                except OSError:  # a folder or FIFO named .mseignore, unreadable: mse-cli never
                    text = ""  # reads it either
                count = sum(
                    1 for s in text.splitlines() if s.strip() and not s.strip().startswith("#")
                )
                if expected is None:
                    expected_label = "the code dir's .mseignore"
                    advice = ""
                else:
                    expected_label = ctx.display(expected)
                    advice = (
                        f"; move them to {expected_label}"
                        if not expected.exists()
                        else f"; merge them into {expected_label}"
                    )
                yield ctx.diagnostic(
                    "MSE502",
                    ctx.display(found),
                    FILE_SPAN,
                    file=ctx.display(found),
                    expected=expected_label,
                    count=count,
                    advice=advice,
                )

    # -- MSE503 --------------------------------------------------------------------------------
    def _junk(
        self, ctx: ProjectContext, code: Path, shipped: Sequence[ManifestEntry]
    ) -> Iterator[Diagnostic]:
        names = {e.rel for e in shipped}
        groups: dict[str, tuple[_Junk, list[ManifestEntry]]] = {}
        folders: dict[str, Optional[_Junk]] = {}  # each folder judged once
        for entry in shipped:
            parts = entry.rel.split("/")
            found: Optional[tuple[str, _Junk]] = None
            for i in range(1, len(parts)):  # folders, outermost first
                folder = "/".join(parts[:i])
                if folder not in folders:
                    folders[folder] = self._junk_dir(parts[i - 1], folder, names)
                junk = folders[folder]
                if junk is not None:
                    found = (folder, junk)
                    break
            if found is None:
                junk = next(
                    (
                        j
                        for j in self.junk
                        if j.kind == "file" and fnmatch.fnmatchcase(parts[-1], j.pattern)
                    ),
                    None,
                )
                if junk is not None:
                    found = (entry.rel, junk)
            if found is not None:
                groups.setdefault(found[0], (found[1], []))[1].append(entry)
            elif entry.size > self.large:
                yield ctx.diagnostic(
                    "MSE503",
                    _shown(ctx, code, entry.rel),
                    FILE_SPAN,
                    thing=_printable(_shown(ctx, code, entry.rel)),
                    size=human_size(entry.size),
                    what=f"larger than {human_size(self.large)}",
                    line=_printable(parts[-1]),
                )
        for rel, (junk, members) in sorted(groups.items()):
            size = human_size(sum(m.size for m in members))
            is_dir = junk.kind == "dir"
            if is_dir:
                n = len(members)
                size = f"{n} file{'s' if n != 1 else ''}, {size}"
            name = rel.rsplit("/", 1)[-1]
            line = junk.line or (name if junk.pattern == "*" or is_dir else junk.pattern)
            if is_dir and junk.pattern != "*" and any(c in junk.pattern for c in "*?["):
                line = junk.pattern
            shown = _shown(ctx, code, rel)
            yield ctx.diagnostic(
                "MSE503",
                shown,
                FILE_SPAN,
                thing=_printable(shown) + ("/" if is_dir else ""),
                size=size,
                what=junk.what,
                line=_printable(line),
            )

    def _junk_dir(self, name: str, folder: str, names: set[str]) -> Optional[_Junk]:
        for j in self.junk:
            if j.kind != "dir" or not fnmatch.fnmatchcase(name, j.pattern):
                continue
            if j.marker and f"{folder}/{j.marker}" not in names:
                continue
            if j.unless and f"{folder}/{j.unless}" in names:
                continue
            return j
        return None

    # -- MSE505 --------------------------------------------------------------------------------
    def _unpinned(self, ctx: ProjectContext, code: Path) -> Iterator[Diagnostic]:
        from mse_lint.project.requirements import entries, marker_holds, parse

        for entry in entries(code / "requirements.txt", code, reader=ctx.project.read):
            req = parse(entry.text)
            if req is None or req.pinned or not marker_holds(req.marker, ctx.target_python):
                continue
            if entry.editable and not req.url:
                continue  # a local path: whatever the folder holds
            shown = ctx.display(entry.file)
            rel = os.path.relpath(os.path.abspath(entry.file), os.path.abspath(code))
            if not rel.startswith(".."):
                shown = _shown(ctx, code, Path(rel).as_posix())
            yield ctx.diagnostic(
                "MSE505", shown, entry.span, requirement=_short(entry.text), name=req.name
            )

    # -- MSE507 --------------------------------------------------------------------------------
    def _memory(self, ctx: ProjectContext) -> Iterator[Diagnostic]:
        toml = ctx.project.mse_toml
        if toml is None:
            return
        cloud = toml.data.get("cloud")
        if isinstance(cloud, Mapping):
            hardware, key = cloud.get("hardware"), "hardware"
        else:  # 0.x schema: top-level `hardware`, `resource` before 0.12
            key = "hardware" if "hardware" in toml.data else "resource"
            hardware = toml.data.get(key)
        if not isinstance(hardware, str):
            return
        memory = hardware_memory(hardware)
        if memory is None:
            return
        manifest = ctx.manifest
        code_size = 0
        if manifest is not None:
            code_size = sum(e.size for e in manifest.entries if e.fate.ships and not e.is_dir)
        info = project_info(ctx.project)
        env = self.dists.environment(info, ctx.target_python)
        libs = sorted(
            ((self.footprints[d], d) for d in env.installed if d in self.footprints),
            reverse=True,
        )
        lib_size = self.runtime + sum(s for s, _ in libs)
        used = code_size + lib_size
        if used <= self.share * memory:
            return
        named = ", ".join(f"{d} ~{human_size(s)}" for s, d in libs[:4])
        if len(libs) > 4:
            named += f", {len(libs) - 4} more"
        libraries = f"~{human_size(lib_size)}" + (f": {named}" if named else "")
        shown = ctx.display(toml.path)
        yield ctx.diagnostic(
            "MSE507",
            shown,
            _toml_value_span(toml.path, key, hardware),
            code=human_size(code_size),
            libraries=libraries,
            used=human_size(used),
            memory=human_size(memory),
            hardware=hardware,
            percent=round(100 * used / memory),
            share=round(100 * self.share),
        )


# ------------------------------------------------------------------------------------------------
def hardware_memory(name: str) -> Optional[int]:
    """`4g-eu-001` -> 4 GiB, `512m-eu-001` -> 512 MiB (bytes); None when the name has no size."""
    m = _HARDWARE.match(name)
    if m is None:
        return None
    factor = {"m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * factor) or None


def _line_kind(raw: str) -> Optional[str]:
    """How mse-cli's reading of a .mseignore line departs from gitignore's, if it does."""
    if raw != raw.rstrip():
        return "trailing"
    if raw.startswith("!"):
        return "negation"
    if "\\" in raw:
        return "backslash"
    if "/" in raw:
        return "slash"
    return None


def _name_pattern(raw: str) -> str:
    """The fnmatch name pattern that does what ``raw`` means to a gitignore reader, or ""."""
    s = raw.rstrip()
    if s.startswith("!"):
        return ""
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            out.append(f"[{nxt}]" if nxt in "*?[" else nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    s = "".join(out)
    if "/" in s:
        parts = [p for p in s.split("/") if p and p != "**"]
        while len(parts) > 1 and set(parts[-1]) <= {"*"}:
            parts.pop()  # `docs/*` means the folder's content: name the folder
        if not parts or set(parts[-1]) <= {"*"}:
            return ""
        s = parts[-1]
    if s.startswith("#"):
        s = "[#]" + s[1:]  # a leading # would make the line a comment
    return s


def _gitignore(pathspec: Any, *lines: str) -> Optional[pathspec.GitIgnoreSpec]:
    try:
        spec = pathspec.GitIgnoreSpec.from_lines(list(lines))
    except Exception:  # an invalid gitignore line means nothing to the user either
        return None
    return spec  # type: ignore[no-any-return]


def _printable(text: str) -> str:
    """Undecodable bytes of a name or line (kept as surrogates to match what os.scandir gives)
    shown as U+FFFD, so that no output format chokes on them."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _listing(ctx: ProjectContext, code: Path, rels: Sequence[str]) -> str:
    shown = [_printable(_shown(ctx, code, r)) for r in rels[:_LISTED]]
    more = len(rels) - _LISTED
    text = ", ".join(shown)
    if more > 0:
        text += f" and {more} more"
    return text


def _shown(ctx: ProjectContext, code: Path, rel: str) -> str:
    base = ctx.display(code)
    return rel if base in ("", ".") else f"{base.rstrip('/')}/{rel}"


_COPY_FAILS = {
    Fate.BROKEN_LINK: "a symlink to nothing",
    Fate.LINK_LOOP: "a symlink loop",
    Fate.UNREADABLE: "a folder that cannot be listed (permission denied)",
    Fate.SPECIAL: "a FIFO, socket or device, not a regular file",
}


def _short(text: str, limit: int = 80) -> str:
    """A requirement for a message: URL credentials left out (MSE205 reports those, redacted),
    long text cut."""
    text = re.sub(r"(://)[^/@\s]*@", r"\1", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _find_mseignore(root: Path) -> Iterator[Path]:
    """Every `.mseignore` under ``root``, not inside VCS folders, virtualenvs or caches."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _PRUNE
            and d not in (".git", ".hg", ".svn", ".venv", ".tox", ".mypy_cache")
            and not os.path.isfile(os.path.join(dirpath, d, "pyvenv.cfg"))
        )
        if ".mseignore" in filenames:
            yield Path(dirpath, ".mseignore")


def _toml_value_span(path: Path, key: str, value: str) -> Span:
    """Where ``key = "value"`` sits in mse.toml (the value's quotes included)."""
    try:
        lines = read_regular(path, "mse.toml").decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return FILE_SPAN
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=\s*")
    for number, line in enumerate(lines, start=1):
        m = pattern.match(line)
        if m is None:
            continue
        start = m.end()
        end = len(line.rstrip())
        literal = line[start:end]
        if value in literal:
            q = line.find(value, start)
            if q > start and line[q - 1] in "\"'":
                return Span(number, q, number, q + len(value) + 2)
            return Span(number, q + 1, number, q + len(value) + 1)
    return FILE_SPAN
