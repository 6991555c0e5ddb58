"""The judges of MSE201, MSE203 and MSE204: whether a name is a secret name, where the secret is in
a value bound to one, the passwords of URLs, the random-looking runs of a value. They judge text,
never a tree: the check (mse_lint.checks.secret_values) asks them about the literals of a file,
mse_lint.core.redact about any text that goes out.

Every word list, pattern and threshold is an attribute of :class:`SecretValueSettings`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from typing import Optional, Union

from mse_lint.checks import LazyPattern
from mse_lint.checks.secret_settings import SecretValueSettings
from mse_lint.core.catalog import Catalog
from mse_lint.core.record import Frozen
from mse_lint.core.settings import Settings
from mse_lint.core.userregex import UserRegex

_SEP = re.compile(r"[^0-9A-Za-z]+")
_LETTER_WORD = re.compile(r"[^\W\d_]+")
_FILE_KEY = re.compile(r"[\w-]+\.[A-Za-z][A-Za-z0-9]{0,4}")
_PATH_WORD = re.compile(r"[a-z][a-z0-9_.-]{2,}")
_PUNCT = "#@!?.:;,*'\"()[]{}<>-_ "
# lower, UPPER, Capitalised, camelCase, PascalCase words, with - _ . between them
_CASED_WORD = r"(?:[a-z]+|[A-Z]+|[A-Z]?[a-z]+(?:[A-Z][a-z]+)*)"
_REGULAR_CASE = re.compile(rf"{_CASED_WORD}(?:[-_.]{_CASED_WORD})*")
# str.isspace() and re's \s agree on every character (both are Py_UNICODE_ISSPACE)
_SPACE = re.compile(r"\s")
_CLASSES = {
    "upper": str.isupper,
    "lower": str.islower,
    "digit": str.isdigit,
    "letter": str.isalpha,
}
# where a % or a { placeholder may start (the file gate's template_keys)
_PLACEHOLDER_START = LazyPattern(r"[%{]")


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` (0 for an empty string)."""
    if not text:
        return 0.0
    n = len(text)
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def norm(text: str) -> str:
    return _SEP.sub("", text).lower()


class Entropic(Frozen):
    start: int
    end: int
    entropy: float
    charset: str


class UrlCredential(Frozen):
    user: str
    start: int  # of the password in the literal's text
    end: int


class SecretJudge:
    """The judges, with their caches, over one :class:`SecretValueSettings`."""

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings
        self.data = SecretValueSettings(catalog, settings)
        self._names: dict[str, Optional[str]] = {}
        self._contexts: dict[str, bool] = {}
        self._runs: dict[str, bool] = {}

    @property
    def min_run(self) -> int:
        """The shortest run MSE204 judges (mse_lint.core.redact skips shorter tokens)."""
        return self.data.min_run

    @functools.cached_property
    def formats(self) -> list[Union[re.Pattern[str], UserRegex]]:
        """MSE202's credential formats, which MSE204 leaves to MSE202. Compiled when a literal
        first gets that far: most files never need them, and compiling them all was most of
        the start-up of a one-file run."""
        out: list[Union[re.Pattern[str], UserRegex]] = []
        for regex in self.data.format_sources:
            try:
                out.append(re.compile(regex))
            except re.error:
                continue
        # the user's, with a time budget each (mse_lint.core.userregex)
        for fid, regex in self.data.user_formats:
            out.append(UserRegex(regex, f"secrets.extra-patterns `{fid}`"))
        return out

    def entropic_runs(self, value: str) -> bool:
        """A run of ``value`` that high_entropy finds has a piece _judge_run takes."""
        finder = self.data.run_finder
        assert finder is not None and self.data.long_run is not None
        for hint in self.data.long_run.finditer(value):
            # high_entropy's runs start where the runs of characters of the set start, and
            # one with fewer than min_run of them has no piece long enough
            run = finder.match(value, hint.start())
            if run is None:  # pragma: no cover - the run's own characters match
                continue
            text = run.group()
            hit = self._runs.get(text)
            if hit is None:
                if len(self._runs) > 65536:
                    self._runs.clear()
                hit = self._runs[text] = any(
                    self._judge_run(text[start:end]) is not None
                    for start, end in self._pieces(text, 0)
                )
            if hit:
                return True
        return False

    # == names ===================================================================================
    def words(self, name: str) -> list[str]:
        """``dbPassword`` / ``DB_PASSWORD`` / ``db-password`` -> ["db", "password"]."""
        out: list[str] = []
        for chunk in _SEP.split(name):
            if chunk:
                out.extend(w.lower() for w in self.data.word.findall(chunk))
        return out

    def secret_name(self, name: str) -> bool:
        """A name that holds a secret (not one that describes it: ``PASSWORD_FIELD``)."""
        return self.name_kind(name) is not None

    def name_kind(self, name: str) -> Optional[str]:
        """None for an ordinary name; "human" for a secret people choose (password, secret:
        a plain word can be one), "machine" for one programs generate (token, api key, auth:
        a value without digits, symbols or irregular case is not one), "weak" for a name that
        is a secret name only by a weak last word (auth: a lower-case name is not one either)."""
        try:
            return self._names[name]
        except KeyError:
            if len(self._names) > 65536:
                self._names.clear()
            kind = self._names[name] = self._name_kind(name)
            return kind

    def _name_kind(self, name: str) -> Optional[str]:
        if not name or len(name) > 80 or name.count(" ") > 1 or not self.data.hint.search(name):
            return None
        if ":" in name or "/" in name:
            return None  # "AWS::IAM::AccessKey", "api/token": a type name, a route, not a name
        words = self.words(name)
        if not words:
            return None
        for n, suffixes in self.data.metadata.items():
            if len(words) > n and tuple(words[-n:]) in suffixes:
                return None
        kind: Optional[str] = None
        for i, word in enumerate(words):
            before = words[i - 1] if i else ""
            stem = self._secret_stem(word)
            if stem is not None:
                if stem[1]:
                    before = stem[1]  # csrftoken: "csrf" comes before "token"
                if (stem[0], before) in self.data.neutral:
                    continue
                if stem[0] in self.data.human:
                    return "human"
                kind = "machine"
            elif i and (before, word) in self.data.bigrams:
                if word in self.data.human:
                    return "human"
                kind = "machine"
        if kind is None:
            core = words
            while len(core) > 1 and core[-1].isdigit():
                core = core[:-1]  # auth2
            if core[-1] in self.data.weak:
                kind = "weak"
        return kind

    def pair_name(self, name: str) -> bool:
        """A name whose (user, password) pair holds a password: ``auth=("admin", "...")``."""
        words = self.words(name)
        return bool(words) and words[-1] in self.data.pair_words

    def _secret_stem(self, word: str) -> Optional[tuple[str, str]]:
        """(secret word, what precedes it inside ``word``) when ``word`` is a secret word."""
        if word in self.data.strong:
            return word, ""
        for c in self.data.compound:
            if word.endswith(c) and len(word) > len(c):
                return c, word[: -len(c)]
        return None

    # == values of secret names (MSE201) =========================================================
    def allowed(self, value: str) -> bool:
        return self.data.secrets.allows(value)

    def secret_part(self, name: str, value: str) -> Optional[tuple[int, int]]:
        """Where the secret is in ``value`` bound to ``name`` (start, end), or None when the value
        is not a secret."""
        kind = self.name_kind(name)
        if kind is None:
            return None
        return self._secret_span(name, value, kind)

    def _secret_span(self, name: str, value: str, kind: str) -> Optional[tuple[int, int]]:
        """secret_part for a name of ``kind``; the name "" excludes no value."""
        start, end = 0, len(value)
        low = value.lower()
        for scheme in self.data.schemes:
            if low.startswith(scheme):
                start = len(scheme)
                break
        while start < end and value[start].isspace():
            start += 1
        while end > start and value[end - 1].isspace():
            end -= 1
        inner = value[start:end].split()
        if (
            len(inner) == 2
            and re.fullmatch(r"[A-Za-z][\w-]{0,20}", inner[0])
            and len(inner[1]) >= 12
            and self._machine(inner[1])
        ):  # "MyScheme abc123...": an unknown scheme before a credential
            start = value.index(inner[1], start)
            end = start + len(inner[1])
        secret = value[start:end]
        if not secret or self.allowed(value) or self.allowed(secret):
            return None
        if self._not_a_secret(name, secret, kind):
            return None
        return start, end

    def _not_a_secret(self, name: str, v: str, kind: str) -> bool:
        if len(v) < self.data.min_length or "://" in v:
            return True
        if _SPACE.search(v):
            return True  # prose ("Enter your password"), labels, several words
        if self.data.placeholder is not None and self.data.placeholder.search(v):
            return True
        if self.data.not_secret is not None and self.data.not_secret.fullmatch(v):
            return True
        if v.startswith(self.data.path_starts) or self.data.file_name.fullmatch(v):
            return True
        if "/" in v and all(re.fullmatch(r"[a-z0-9_.-]*", p) for p in v.split("/")):
            return True  # a relative path or a route: static/js, api/v1/token
        low = v.lower()
        if low in self.data.translations or low in self.data.setting_words or self._label(v):
            return True
        nv, nn = norm(v), norm(name)
        if nv and (nv in nn or (nn and nn in nv and nv.isalpha())):
            return True  # repeats the name: PASSWORD = "password", {"NextToken": "NextToken"}
        if nv.isalpha() and any(w in nv for w in self.data.compound):
            return True  # says what it is: "newpassword", "notsecret", "mytoken"
        if len(nv) >= 4 and self._sequential(nv, ascending=False):
            return True  # "abcdefgh", "12345678", "qwertyuiop"
        if kind != "human" and not self._machine(v):
            return True  # token == "keyword", auth = "required": words, not generated values
        if kind == "weak" and re.fullmatch(r"[a-z0-9_.-]+", v):
            return True  # {"auth0": "types-auth0-python"}: a weak name wants more than a name
        has_letter = any(c.isalpha() for c in v)
        has_digit = any(c.isdigit() for c in v)
        has_symbol = any(not c.isalnum() for c in v)
        mixed = (has_letter + has_digit + has_symbol) >= 2
        return len(v) < self.data.short_length and not mixed

    def _label(self, v: str) -> bool:
        """A word with its punctuation: "Password:", "Token?"."""
        stripped = v.rstrip(":?!.…*")
        return stripped != v and _LETTER_WORD.fullmatch(stripped) is not None

    def _machine(self, v: str) -> bool:
        """Looks generated: a digit, a symbol inside, or irregular letter case."""
        core = v.strip(_PUNCT)
        if any(c.isdigit() for c in core):
            return True
        if any(not c.isalnum() and c not in "-_." for c in core):
            return True
        return bool(core) and not _REGULAR_CASE.fullmatch(core)

    # == command lines and templates (MSE201) ===================================================
    def template_key(self, prefix: str) -> str:
        """The name the template text before a placeholder gives to what is formatted there:
        "password" for "user=app password=", "--token" for "cli --token ", "" for none."""
        low = prefix.lower()
        if low.endswith(self.data.spaced_schemes):  # "Authorization: Bearer "
            scheme = next(s for s in self.data.spaced_schemes if low.endswith(s))
            prefix = prefix[: -len(scheme)]
        m = self.data.template_key_regex.search(prefix[-120:])
        if m is None:
            return ""
        option = m.group("option")
        return f"--{option}" if option else m.group("key") or ""

    def template_keys(self, template: str) -> list[str]:
        """The names of template_key for every text between two of the template's ``%`` and
        ``{``: a superset of those of its placeholders, whatever its syntax."""
        return [
            k.lstrip("-")
            for piece in _PLACEHOLDER_START.get().split(template)[:-1]
            for k in (self.template_key(piece),)
            if k
        ]

    def option_takes_no_value(self, name: str) -> bool:
        """``--no-password``, ``--password-stdin``: the element after it is another argument."""
        return any(w in self.data.flag_words for w in self.words(name))

    # == URLs (MSE203) ===========================================================================
    def url_credentials(self, text: str) -> list[UrlCredential]:
        if "://" not in text or "@" not in text:
            return []
        out = []
        for m in self.data.url.finditer(text):
            user, pw = m.group("user"), m.group("password")
            if pw == user or all(p in self.data.example_passwords for p in pw.lower().split("@")):
                continue  # "foo:bar@baz@host" is made of examples too
            if self.data.url_placeholder is not None and self.data.url_placeholder.search(pw):
                continue
            if self.allowed(pw) or self.allowed(text):
                continue
            out.append(UrlCredential(user, m.start("password"), m.end("password")))
        return out

    # == entropy (MSE204) ========================================================================
    def high_entropy(self, value: str, context: Sequence[str] = ()) -> Optional[Entropic]:
        """The first random-looking run of ``value``, unless the context (the names the value
        is bound to or passed to) marks it as a checksum, an identifier or a test vector."""
        if self.data.run_finder is None or len(value) < self.data.min_run:
            return None
        for name in context:
            if _FILE_KEY.fullmatch(name) or self._context_name(name):
                return None  # EXPECTED_SHA256 = "...", {"ascent.dat": "<sha256>"}
        if value.startswith(self.data.data_prefixes) or self.allowed(value):
            return None
        if self.data.placeholder is not None and self.data.placeholder.search(value):
            return None  # "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
        if self.data.value_data is not None and self.data.value_data.search(value):
            return None
        for m in self.data.run_finder.finditer(value):
            if m.end() - m.start() < self.data.min_run:
                continue
            for start, end in self._pieces(m.group(), m.start()):
                found = self._judge_run(value[start:end])
                if found is None:
                    continue
                # "Signature: 8a47...", "sha256=9f86...", "/blob/89aa...": the words before it
                lead = self.words(value[max(0, start - 24) : start])[-2:]
                if any(w in self.data.context_words for w in lead):
                    continue
                if any(f.search(value) is not None for f in self.formats):
                    return None  # MSE202 reports it
                return Entropic(start, end, found[0], found[1])
        return None

    def _context_name(self, name: str) -> bool:
        hit = self._contexts.get(name)
        if hit is None:
            if len(self._contexts) > 65536:
                self._contexts.clear()
            hit = (
                any(w in self.data.context_words for w in self.words(name))
                or norm(name) in self.data.context_words  # "ETag" splits into "e" and "tag"
                or bool(self.data.long_context and self.data.long_context.search(name))
            )
            self._contexts[name] = hit
        return hit

    def _pieces(self, run: str, at: int) -> list[tuple[int, int]]:
        """A path-like run (two or more lower-case word segments between slashes:
        "com/python/cpython/blob/89aa.../Lib") is judged segment by segment."""
        parts = run.split("/")
        if len(parts) < 3 or sum(bool(_PATH_WORD.fullmatch(p)) for p in parts) < 2:
            return [(at, at + len(run))]
        out = []
        for p in parts:
            if len(p) >= self.data.min_run:
                out.append((at, at + len(p)))
            at += len(p) + 1
        return out

    def _judge_run(self, run: str) -> Optional[tuple[float, str]]:
        core = run.rstrip("=")
        if self.data.uuid.fullmatch(run) or run.startswith(self.data.data_prefixes):
            return None
        if self.data.data_regex is not None and self.data.data_regex.match(run):
            return None
        if self.allowed(run) or self.data.identifier.fullmatch(run):
            return None
        for cs in self.data.charsets:
            if not (cs.min_length <= len(core) <= cs.max_length):
                continue
            if not all(c in cs.chars for c in core):
                continue
            if cs.name == "hex" and not (core.islower() or core.isupper()):
                continue  # mixed-case hex letters: judged as base64
            if not all(any(_CLASSES[k](c) for c in core) for k in cs.require if k in _CLASSES):
                return None
            if self._sequential(core) or (cs.name != "hex" and self._wordy(core)):
                return None
            if cs.name == "base64" and _encoded_text(core):
                return None
            e = shannon_entropy(core)
            return (e, cs.name) if e > cs.limit(len(core)) else None
        return None

    def _wordy(self, s: str) -> bool:
        tokens = self.data.token.findall(s)
        return bool(tokens) and sum(map(len, tokens)) >= self.data.token_length * len(tokens)

    def _sequential(self, s: str, ascending: bool = True) -> bool:
        """Most neighbours follow each other in an alphabet or on a keyboard row ("abcdef",
        "123456", "qwerty"), or (``ascending``, for long runs) the characters are sorted
        (base58 and other alphabet constants)."""
        n = len(s) - 1
        if n <= 0:
            return True
        follow = sum((a, b) in self.data.pairs for a, b in zip(s, s[1:]))
        if follow >= self.data.sequential_ratio * n:
            return True
        return ascending and sum(a < b for a, b in zip(s, s[1:])) >= self.data.ascending_ratio * n


def _encoded_text(run: str) -> bool:
    """``run`` is base64 of readable text without a colon: encoded data ("YWJjZGVm..." is
    "abcdef..."), not a key; "dXNlcjpwYXNz" ("user:pass") stays a candidate."""
    import base64
    import binascii

    body = run.rstrip("=")
    body = body[: len(body) - len(body) % 4]
    if len(body) < 16:
        return False
    try:
        raw = base64.b64decode(body, altchars=b"-_" if ("-" in body or "_" in body) else None)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return ":" not in text and sum(c.isprintable() or c in "\n\r\t" for c in text) >= 0.95 * len(
        text
    )
