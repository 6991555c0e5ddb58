"""Secrets: MSE205 MSE206 MSE207, what ships from the code dir (project-level).

- MSE205: credentials in URLs of every shipped ``requirements.txt`` (they ship in clear text).
  Lines are read as pip reads them (continuations, comments); requirement lines are parsed with
  ``packaging``, option lines (``--index-url`` ...) are kept raw.
- MSE206: secrets-bearing files that ship (the manifest, i.e. mse-cli's real ``.mseignore``
  semantics); when an ``.mseignore`` line was meant to exclude one, the message says what to
  write instead.
- MSE207: symlinks that ship and point outside the code dir (``shutil.copytree`` follows them).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from mse_lint.checks import ProjectContext
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import FILE_SPAN, Diagnostic
from mse_lint.core.record import Frozen
from mse_lint.core.redact import redact
from mse_lint.core.safeio import read_head
from mse_lint.core.settings import Settings
from mse_lint.core.userregex import UserRegex
from mse_lint.project.model import Fate, ManifestEntry
from mse_lint.project.requirements import URL_SCHEME, egg_name
from mse_lint.project.requirements import logical_lines as _logical_lines
from mse_lint.project.requirements import tokens as _tokens

if TYPE_CHECKING:
    import pathspec


class _FilePattern(Frozen):
    pattern: str
    why: str
    excepts: tuple[str, ...] = ()
    public_if: str = ""
    secret_marker: str = ""
    holds_key_why: str = ""

    def matches(self, name: str) -> bool:
        low = name.lower()
        if not fnmatch.fnmatchcase(low, self.pattern.lower()):
            return False
        return not any(fnmatch.fnmatchcase(low, e.lower()) for e in self.excepts)


class SecretFilesCheck:
    codes = frozenset({"MSE205", "MSE206", "MSE207"})

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings
        data = catalog.data("secrets")
        self.file_patterns = [
            _FilePattern(
                raw["pattern"],
                raw["why"],
                tuple(raw.get("except", ())),
                raw.get("public_if", ""),
                raw.get("secret_marker", ""),
                raw.get("holds_key_why", ""),
            )
            for raw in data.get("shipped_secret_files", [])
        ]
        content: Mapping[str, Any] = data.get("shipped_key_content", {})
        self.key_max_bytes = int(content.get("max_bytes", 1 << 20))
        self.key_field = str(content.get("json_field", "private_key"))
        self.key_pem = re.compile(
            str(content.get("pem_regex", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"))
        )
        self.key_in_field = str(content.get("in_field", "a PEM block in its private_key field"))
        self.key_in_text = str(content.get("in_text", "a PEM private key block"))
        self.configured_why: str = data.get(
            "shipped_secrets_configured_why", "is the secrets file named by `[cloud] secrets`"
        )
        self.ssl_key_why: str = data.get(
            "shipped_ssl_key_configured_why",
            "is the SSL private key named by `[cloud.ssl] private_key`",
        )
        req: Mapping[str, Any] = data.get("requirements_credentials", {})
        self.url_options: dict[str, str] = {
            o["option"]: o["label"] for o in req.get("url_options", [])
        }
        self.token_min_length = int(req.get("token_min_length", 16))
        self.token_users = frozenset(req.get("known_token_users", ()))
        self.token_passwords = frozenset(req.get("known_token_passwords", ()))
        self.placeholder = re.compile(req.get("placeholder_regex", r"^\$\{[^}]*\}$"))
        formats: list[Union[re.Pattern[str], UserRegex]] = []
        for f in data.get("formats", []):
            regex = f.get("regex") if isinstance(f, Mapping) else None
            if isinstance(regex, str):
                try:
                    formats.append(re.compile(regex))
                except re.error:  # another family's data: never let it break this rule
                    continue
        formats.extend(
            UserRegex(regex, f"secrets.extra-patterns `{fid}`")
            for fid, regex in settings.secrets.extra_patterns
        )
        self.formats = formats

    def wants(self, text: str) -> bool:
        return False

    def run(self, ctx: ProjectContext) -> Iterable[Diagnostic]:
        manifest = ctx.manifest
        if manifest is None:
            return []
        code = manifest.code_dir
        out: list[Diagnostic] = []
        shipped = [e for e in manifest.entries if e.fate.ships]
        for entry in shipped:
            if not entry.is_dir and entry.fate is Fate.CLEAR and _name(entry) == "requirements.txt":
                out.extend(self._requirements(ctx, code, entry.rel))
        out.extend(self._secret_files(ctx, code, shipped))
        out.extend(self._escaping_links(ctx, code, shipped))
        return out

    def _allowed(self, value: str) -> bool:
        return self.settings.secrets.allows(value)

    # -- MSE205 --------------------------------------------------------------------------------
    def _requirements(self, ctx: ProjectContext, code: Path, rel: str) -> Iterator[Diagnostic]:
        path = code / rel
        data = ctx.project.read(path, "requirements")
        if data is None:
            return
        # columns as the reporters count them: a BOM is a character of line 1 (read as blank)
        text = data.decode("utf-8", "replace")
        if text.startswith("\ufeff"):
            text = " " + text[1:]
        shown = _shown(ctx, code, rel)
        for line in _logical_lines(text):
            for what, start, end in self._line_urls(line.text):
                found = self._credential(line.text[start:end])
                if found is None:
                    continue
                s, e = start + found[0], start + found[1]
                secret = line.text[s:e]
                yield ctx.diagnostic(
                    "MSE205",
                    shown,
                    line.span(s, e),
                    secret=True,
                    what=what,
                    file=shown,
                    value=redact(secret),
                )

    def _line_urls(self, text: str) -> Iterator[tuple[str, int, int]]:
        """(what, start, end) of each URL on a logical line."""
        if text.startswith("-"):
            yield from self._option_urls(text)
            return
        # a requirement, possibly followed by per-requirement options (--hash=...)
        tokens = list(_tokens(text))
        cut = next((s for s, _, t in tokens if t.startswith("-")), len(text))
        spec = text[:cut].rstrip()
        name = ""
        url: Optional[str] = None
        try:
            from packaging.requirements import InvalidRequirement, Requirement

            try:
                req = Requirement(spec)
                name, url = req.name, req.url
            except InvalidRequirement:
                pass
        except ImportError:  # pragma: no cover - packaging is a dependency
            pass
        start = spec.find(url) if url is not None else -1
        if url is not None and start >= 0:
            yield f"requirement `{name}`", start, start + len(url)
        else:
            # not PEP 508: a bare URL (`git+https://...#egg=name`, an archive) or a path
            for start, end, token in tokens:
                if start >= cut:
                    break
                if URL_SCHEME.search(token):
                    egg = egg_name(token)
                    label = egg if egg else token.rstrip("/").rsplit("/", 1)[-1]
                    label = label.split("#", 1)[0] or token
                    yield f"requirement `{label}`", start, end
        if cut < len(text):
            # options after a requirement: pip accepts only --hash and a few others there, but
            # whatever is written ships all the same
            for what, s, e in self._option_urls(text[cut:]):
                yield what, cut + s, cut + e

    def _option_urls(self, text: str) -> Iterator[tuple[str, int, int]]:
        tokens = list(_tokens(text))
        i = 0
        while i < len(tokens):
            start, end, tok = tokens[i]
            i += 1
            if not tok.startswith("-"):
                continue
            label: Optional[str] = None
            value: Optional[tuple[int, int]] = None
            if tok.startswith("--") and "=" in tok:
                opt = tok.split("=", 1)[0]
                label = self.url_options.get(opt)
                value = (start + len(opt) + 1, end)
            elif tok in self.url_options:
                label = self.url_options[tok]
                if i < len(tokens):
                    value = tokens[i][:2]
                    i += 1
            elif not tok.startswith("--") and tok[:2] in self.url_options:
                label = self.url_options[tok[:2]]  # -ihttps://... (optparse)
                skip = 3 if tok[2:3] == "=" else 2
                value = (start + skip, end)
            if label is None or value is None:
                continue
            if URL_SCHEME.search(text[value[0] : value[1]]):
                yield f"`{label}`", value[0], value[1]

    def _credential(self, url: str) -> Optional[tuple[int, int]]:
        """(start, end) in ``url`` of the credential its user info carries, if any."""
        m = URL_SCHEME.search(url)
        if m is None:
            return None
        begin = m.end()
        stop = len(url)
        for ch in "/?#":
            k = url.find(ch, begin)
            if k >= 0:
                stop = min(stop, k)
        at = url.rfind("@", begin, stop)
        if at < 0:
            return None
        userinfo = url[begin:at]
        user, colon, password = userinfo.partition(":")
        user_secret = (
            bool(user)
            and user not in self.token_users
            and not self._placeholder(user)
            and (self._token_like(user) or (bool(colon) and password in self.token_passwords))
        )
        password_secret = (
            bool(password)
            and password not in self.token_passwords
            and not self._placeholder(password)
        )
        if user_secret and password_secret:
            start, end = begin, at
        elif password_secret:
            start, end = begin + len(user) + 1, at
        elif user_secret:
            start, end = begin, begin + len(user)
        else:
            return None
        if self._allowed(url[start:end]):
            return None
        return start, end

    def _placeholder(self, value: str) -> bool:
        # ${PIP_TOKEN}: pip expands it from the environment, the file holds no secret
        return "${" in value or self.placeholder.match(value) is not None

    def _token_like(self, value: str) -> bool:
        if len(value) >= self.token_min_length and (
            any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
        ):
            return True
        return any(f.search(value) is not None for f in self.formats)

    # -- MSE206 --------------------------------------------------------------------------------
    def _secret_files(
        self, ctx: ProjectContext, code: Path, shipped: Sequence[ManifestEntry]
    ) -> Iterator[Diagnostic]:
        configured = self._configured_rel(ctx, code)
        hints = _MseignoreHints(code, ctx.project.read(code / ".mseignore", ".mseignore"))
        for entry in shipped:
            if entry.is_dir:
                continue
            name = _name(entry)
            why: Optional[str] = None
            why = configured.get(entry.rel)
            if why is None:
                for p in self.file_patterns:
                    if p.matches(name) and not self._public(p, code / entry.rel):
                        where = self._private_key(code / entry.rel) if p.holds_key_why else None
                        why = p.holds_key_why.format(where=where) if where else p.why
                        break
            if why is None:
                continue
            shown = _shown(ctx, code, entry.rel)
            yield ctx.diagnostic(
                "MSE206",
                shown,
                FILE_SPAN,
                file=shown,
                fate=entry.fate.value,
                why=why,
                hint=hints.hint(entry.rel),
            )

    def _configured_rel(self, ctx: ProjectContext, code: Path) -> dict[str, str]:
        """Files that mse.toml names as secret, inside the code dir: rel path -> why."""
        toml = ctx.project.mse_toml
        if toml is None:
            return {}
        cloud = toml.data.get("cloud")
        if not isinstance(cloud, Mapping):
            cloud = toml.data.get("code")  # 0.x schema: [code] secrets
        if not isinstance(cloud, Mapping):
            return {}
        ssl = cloud.get("ssl") if "ssl" in cloud else toml.data.get("ssl")
        named = [(cloud.get("secrets"), self.configured_why)]
        if isinstance(ssl, Mapping):
            named.append((ssl.get("private_key"), self.ssl_key_why))
        root = os.path.realpath(code)
        out: dict[str, str] = {}
        for name, why in named:
            if not isinstance(name, str) or not name.strip():
                continue
            rel = os.path.relpath(os.path.realpath(toml.folder / name), root)
            if not rel.startswith("..") and not os.path.isabs(rel):
                out.setdefault(Path(rel).as_posix(), why)
        return out

    @staticmethod
    def _public(p: _FilePattern, path: Path) -> bool:
        """A PEM file holding certificates only (a CA bundle) holds no secret."""
        if not p.public_if:
            return False
        try:
            head = read_head(path, 1 << 20).decode("utf-8", "ignore")
        except OSError:
            return False
        return p.public_if in head and not (p.secret_marker and p.secret_marker in head)

    def _private_key(self, path: Path) -> Optional[str]:
        """How the file is seen to hold a private key (a JSON key field or a PEM block in its
        text), or None: not seen, or not looked at (not a regular file, too large, unreadable).
        Nothing of the key is kept."""
        head = _read_regular(path, self.key_max_bytes)
        if head is None:
            return None
        text = head.decode("utf-8", "replace")
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict):
            value = doc.get(self.key_field)
            if isinstance(value, str) and self.key_pem.search(value):
                return self.key_in_field
        return self.key_in_text if self.key_pem.search(text) else None

    # -- MSE207 --------------------------------------------------------------------------------
    def _escaping_links(
        self, ctx: ProjectContext, code: Path, shipped: Sequence[ManifestEntry]
    ) -> Iterator[Diagnostic]:
        root = os.path.realpath(code)
        is_link: dict[str, bool] = {}
        found: dict[str, tuple[int, str, str]] = {}  # link identity -> (hops, rel, target)
        for entry in shipped:
            if entry.link is None:
                continue
            parts = entry.rel.split("/")
            hops = 0
            for i in range(1, len(parts) + 1):
                prefix = "/".join(parts[:i])
                link = is_link.get(prefix)
                if link is None:
                    link = is_link[prefix] = os.path.islink(code / prefix)
                if not link:
                    continue
                target = os.path.realpath(code / prefix)
                if _inside(target, root):
                    hops += 1
                    continue
                # the link itself, whatever path reaches it: its real folder and its name
                identity = os.path.join(
                    os.path.realpath(code.joinpath(*parts[: i - 1])), parts[i - 1]
                )
                known = found.get(identity)
                if known is None or (hops, prefix) < known[:2]:
                    found[identity] = (hops, prefix, target)
                break
        for _, rel, target in sorted(found.values(), key=lambda f: f[1]):
            shown = _shown(ctx, code, rel)
            yield ctx.diagnostic(
                "MSE207",
                shown,
                FILE_SPAN,
                file=shown,
                target=ctx.display(Path(target)),
            )


class _MseignoreHints:
    """For a shipped file, the .mseignore line a gitignore reader would take to exclude it."""

    def __init__(self, code: Path, data: Optional[bytes]) -> None:
        self.lines: list[tuple[int, str]] = []
        self._specs: dict[str, Optional[pathspec.GitIgnoreSpec]] = {}
        if data is None:
            return
        text = data.decode("utf-8", "surrogateescape")
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip() and not line.strip().startswith("#"):
                self.lines.append((number, line))

    def hint(self, rel: str) -> str:
        if not self.lines:
            return ""
        import pathspec  # only when a secrets file ships: about 25 ms to import

        for number, line in self.lines:
            if line not in self._specs:
                # `secrets.json/` means "the folder" to git, but its intent is plain
                variants = dict.fromkeys([line, line.rstrip().rstrip("/")])
                try:
                    self._specs[line] = pathspec.GitIgnoreSpec.from_lines(
                        [v for v in variants if v]
                    )
                except Exception:  # an invalid gitignore line means nothing to the user either
                    self._specs[line] = None
            spec = self._specs[line]
            if spec is not None and spec.match_file(rel):
                instead = _basename_pattern(line, rel)
                return (
                    f"; the .mseignore line {line!r} (line {number}) does not exclude it: "
                    "mse-cli matches each line against file and folder names, never paths, "
                    f"so write `{instead}` instead (it applies at every depth)"
                )
        return ""


def _basename_pattern(line: str, rel: str) -> str:
    """The name pattern that excludes ``rel`` the way ``line`` was meant to."""
    parts = [p for p in line.strip().replace("\\", "").split("/") if p and p != "**"]
    components = rel.split("/")
    if parts and any(fnmatch.fnmatchcase(c, parts[-1]) for c in components):
        return parts[-1]
    return components[-1]


def _read_regular(path: Path, limit: int) -> Optional[bytes]:
    """The content of a regular file of at most ``limit`` bytes, or None. Opened without
    blocking and checked after opening, so a FIFO or device planted under a credentials name
    neither hangs the run nor gets read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return data if len(data) <= limit else None  # grew while read: judged by its name
    except OSError:
        return None
    finally:
        os.close(fd)


def _shown(ctx: ProjectContext, code: Path, rel: str) -> str:
    """A path of the code dir as displayed, NOT resolved: a file reached through a symlink is
    named by where it sits in the code dir (ctx.display resolves the links)."""
    base = ctx.display(code)
    return rel if base in ("", ".") else f"{base.rstrip('/')}/{rel}"


def _name(entry: ManifestEntry) -> str:
    return entry.rel.rsplit("/", 1)[-1]


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
