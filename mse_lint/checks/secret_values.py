"""MSE201 hardcoded-secret, MSE203 credentials-in-url, MSE204 high-entropy-string.

One pass over the tree collects every string literal that is bound to a name (assignment
targets, attributes, subscripts with a literal key, annotated assignments, dict keys, keyword
arguments, parameter defaults, comparisons, ``x.get("key", default)``-style calls) or passed to
a call. MSE201 judges the literals bound to a secret-like name on their value; MSE203 looks at
every string and bytes literal (f-string constant parts included) for ``scheme://user:pw@host``;
MSE204 measures the entropy of the bound and passed literals that neither of the others, nor the
credential formats of MSE202, report. Every word list, pattern and threshold comes from
``rules/secrets.toml``.

Before the pass, ``may_report`` applies to the values of the file's literals (never to their
source text, which escapes, implicit concatenation and f-string braces make differ) what each
rule needs whatever the literal is bound to: a URL with a user part, a run ``_judge_run``
takes, or a secret name anywhere in the file together with a value ``secret_part`` takes for
the loosest kind of those names. Most files stop there; when only MSE201 remains possible, the
pass binds literals to secret names only.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Optional, Union

from mse_lint.checks import FileContext, LazyPattern
from mse_lint.checks import words as file_words
from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Span
from mse_lint.core.record import Frozen, Mutable
from mse_lint.core.record import set_field as _set
from mse_lint.core.redact import redact
from mse_lint.core.settings import Settings
from mse_lint.core.userregex import UserRegex

_SEP = re.compile(r"[^0-9A-Za-z]+")
_CAMEL = r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+"
_QUOTE = re.compile(r"([rRbBuUfF]{0,2})('''|\"\"\"|'|\")")
_LETTER_WORD = re.compile(r"[^\W\d_]+")
_FILE_KEY = re.compile(r"[\w-]+\.[A-Za-z][A-Za-z0-9]{0,4}")
_PATH_WORD = re.compile(r"[a-z][a-z0-9_.-]{2,}")
_PUNCT = "#@!?.:;,*'\"()[]{}<>-_ "
# lower, UPPER, Capitalised, camelCase, PascalCase words, with - _ . between them
_CASED_WORD = r"(?:[a-z]+|[A-Z]+|[A-Z]?[a-z]+(?:[A-Z][a-z]+)*)"
_REGULAR_CASE = re.compile(rf"{_CASED_WORD}(?:[-_.]{_CASED_WORD})*")
_OPTION = re.compile(r"--?[A-Za-z][\w-]*")
# str.isspace() and re's \s agree on every character (both are Py_UNICODE_ISSPACE)
_SPACE = re.compile(r"\s")
_NOT_ALNUM = re.compile(r"[^0-9a-z\n]*")
_KIND_RANK = {"weak": 1, "machine": 2, "human": 3}
_CLASSES = {
    "upper": str.isupper,
    "lower": str.islower,
    "digit": str.isdigit,
    "letter": str.isalpha,
}

StrNode = Union[ast.Constant, ast.JoinedStr]


def _strings(raw: Any) -> list[str]:
    return [str(x) for x in raw] if isinstance(raw, list) else []


def _table(raw: Any) -> Mapping[str, Any]:
    return raw if isinstance(raw, dict) else {}


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` (0 for an empty string)."""
    if not text:
        return 0.0
    n = len(text)
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _norm(text: str) -> str:
    return _SEP.sub("", text).lower()


def _string_value(node: ast.AST) -> Optional[str]:
    """The text of a str or bytes literal (bytes read as latin-1), else None."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            return node.value
        if isinstance(node.value, bytes):
            return node.value.decode("latin-1")
    return None


class Charset(Frozen):
    name: str
    spec: str  # the character class, as in the catalogue ("A-Za-z0-9+/_-")
    run: re.Pattern[str]
    chars: frozenset[str]
    min_length: int
    max_length: int
    threshold: float
    scale: float
    require: tuple[str, ...]

    def __init__(
        self,
        name: str,
        spec: str,
        run: re.Pattern[str],
        chars: frozenset[str],
        min_length: int,
        max_length: int,
        threshold: float,
        scale: float,
        require: tuple[str, ...],
    ) -> None:
        _set(self, "name", name)
        _set(self, "spec", spec)
        _set(self, "run", run)
        _set(self, "chars", chars)
        _set(self, "min_length", min_length)
        _set(self, "max_length", max_length)
        _set(self, "threshold", threshold)
        _set(self, "scale", scale)
        _set(self, "require", require)

    def limit(self, n: int) -> float:
        """The entropy a candidate of ``n`` characters must exceed."""
        return min(self.threshold, self.scale * math.log2(max(n, 2)))


class Entropic(Frozen):
    start: int
    end: int
    entropy: float
    charset: str

    def __init__(self, start: int, end: int, entropy: float, charset: str) -> None:
        _set(self, "start", start)
        _set(self, "end", end)
        _set(self, "entropy", entropy)
        _set(self, "charset", charset)


class UrlCredential(Frozen):
    user: str
    start: int  # of the password in the literal's text
    end: int

    def __init__(self, user: str, start: int, end: int) -> None:
        _set(self, "user", user)
        _set(self, "start", start)
        _set(self, "end", end)


class SecretValuesCheck:
    codes = frozenset({"MSE201", "MSE203", "MSE204"})

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.settings = settings
        family = catalog.data("secrets")
        data = _table(family.get("secret_values"))
        names = _table(data.get("names"))
        values = _table(data.get("values"))
        urls = _table(data.get("urls"))
        entropy = _table(data.get("entropy"))
        argv = _table(data.get("argv"))
        templates = _table(data.get("templates"))

        # -- names ---------------------------------------------------------------------------
        self.strong = frozenset(w.lower() for w in _strings(names.get("strong")))
        self.weak = frozenset(w.lower() for w in _strings(names.get("weak")))
        self.human = frozenset(w.lower() for w in _strings(names.get("human")))
        self.pair_words = frozenset(w.lower() for w in _strings(names.get("pair_words")))
        self.compound = tuple(w.lower() for w in _strings(names.get("compound_suffixes")))
        self.bigrams = frozenset(
            tuple(b.lower().split()) for b in _strings(names.get("bigrams")) if len(b.split()) == 2
        )
        self.metadata: dict[int, set[tuple[str, ...]]] = {}
        for m in _strings(names.get("metadata_suffixes")):
            suffix = tuple(m.lower().split("_"))
            self.metadata.setdefault(len(suffix), set()).add(suffix)
        self.neutral = frozenset(
            tuple(n.lower().split(":", 1)) for n in _strings(names.get("neutralizers")) if ":" in n
        )
        keep = [re.escape(w) for w in _strings(names.get("camel_keep"))]
        self._word = _lazy("|".join([*keep, _CAMEL]))

        # -- values --------------------------------------------------------------------------
        self.min_length = int(values.get("min_length", 4))
        self.short_length = int(values.get("short_length", 6))
        self.schemes = tuple(
            sorted({s.lower() for s in _strings(values.get("auth_schemes"))}, key=len, reverse=True)
        )
        self.placeholder = _union(_strings(values.get("placeholder_regexes")), re.IGNORECASE)
        self.not_secret = _union(_strings(values.get("not_secret_regexes")), 0)
        self.path_starts = tuple(_strings(values.get("path_starts")))
        exts = "|".join(re.escape(e) for e in _strings(values.get("path_extensions")))
        self.file_name = _lazy(rf"[\w.@-]*\.(?:{exts})" if exts else r"(?!)", re.IGNORECASE)
        self.translations = frozenset(t.lower() for t in _strings(values.get("translations")))
        self.setting_words = frozenset(w.lower() for w in _strings(values.get("setting_words")))
        # callables taking a password as a positional argument: login:1 is login(user, password)
        self.key_value_calls = frozenset(_strings(names.get("key_value_calls")))
        self.attribute_value_calls = frozenset(_strings(names.get("attribute_value_calls")))
        self.password_args: dict[str, int] = {}
        for item in _strings(names.get("password_arguments")):
            callee, _, index = item.partition(":")
            if index.isdigit():
                self.password_args[callee] = int(index)

        # -- URLs ----------------------------------------------------------------------------
        self.url = _lazy(str(urls.get("regex", r"(?!)")))
        self.url_placeholder = _union(_strings(urls.get("placeholder_regexes")), re.IGNORECASE)
        self.example_passwords = frozenset(
            p.lower() for p in _strings(urls.get("example_passwords"))
        )

        # -- command lines and templates (MSE201) --------------------------------------------
        self.argv_option = _lazy(str(argv.get("option_regex", r"(?!)")), re.DOTALL)
        self.argv_long = _lazy(str(argv.get("long_option_regex", r"(?!)")))
        self.flag_words = frozenset(w.lower() for w in _strings(argv.get("flag_words")))
        self.template_key_regex = _lazy(str(templates.get("key_regex", r"(?!)")))
        # the authorization schemes a template may put between a key and its value
        self._spaced_schemes = tuple(s for s in self.schemes if s.endswith(" "))
        self.constructs = {
            str(k): str(v) for k, v in _table(data.get("constructs")).items() if isinstance(v, str)
        }

        # -- entropy -------------------------------------------------------------------------
        self.charsets = tuple(
            _charset(name, _table(entropy.get(name)))
            for name in ("hex", "base64")
            if isinstance(entropy.get(name), dict)
        )
        wide = [c for c in self.charsets if c.name == "base64"] or list(self.charsets)
        self.run_finder = wide[0].run if wide else None
        self.min_run = min((c.min_length for c in self.charsets), default=10**9)
        self.sequences = _strings(entropy.get("sequences"))
        self.pairs = frozenset(
            pair
            for seq in self.sequences
            for a, b in zip(seq, seq[1:])
            for pair in ((a, b), (b, a))
        )
        self.sequential_ratio = float(entropy.get("sequential_ratio", 0.5))
        self.ascending_ratio = float(entropy.get("ascending_ratio", 0.8))
        part = str(entropy.get("identifier_part", r"[a-z]+"))
        self.identifier = _lazy(rf"{part}(?:[-_/.=]+{part})*[-_/.=]*")
        self.token = _lazy(str(entropy.get("token", _CAMEL)))
        self.token_length = float(entropy.get("identifier_token_length", 3.0))
        self.data_prefixes = tuple(_strings(entropy.get("data_prefixes")))
        self.data_regex = _union(_strings(entropy.get("data_regexes")), 0)
        self.value_data = _union(_strings(entropy.get("value_data_regexes")), 0)
        self.uuid = _lazy(str(entropy.get("uuid_regex", r"(?!)")))
        self.context_words = frozenset(w.lower() for w in _strings(entropy.get("context_words")))
        # long context words also count inside a word: expectedchecksum, sha256sum
        long_words = sorted((re.escape(w) for w in self.context_words if len(w) >= 5), key=len)
        self._long_context = (
            _lazy("|".join(reversed(long_words)), re.IGNORECASE) if long_words else None
        )
        self._contexts: dict[str, bool] = {}

        # -- MSE202's formats and the user's settings (compiled on first use: see formats) ----
        raw_formats = family.get("formats", [])
        self._format_sources = [
            fmt["regex"]
            for fmt in (raw_formats if isinstance(raw_formats, list) else [])
            if isinstance(fmt, dict) and isinstance(fmt.get("regex"), str)
        ]
        self._user_formats = settings.secrets.extra_patterns

        # names worth judging: a secret word or a bigram in them
        words = sorted(self.strong | self.weak | set(self.compound), key=len, reverse=True)
        alternatives = [re.escape(w) for w in words]
        alternatives += [rf"{re.escape(a)}[-_. ]?{re.escape(b)}" for a, b in sorted(self.bigrams)]
        self._hint = re.compile("|".join(alternatives), re.IGNORECASE)
        # the file gate (see may_report): plain substring tests on lower-cased names are fast
        self._needles = tuple(words)
        self._password_callees = frozenset(self.password_args)
        self._names: dict[str, Optional[str]] = {}
        # a needle holding another one is found wherever that one is not: only the others
        self._min_needles = tuple(
            w for w in self._needles if not any(o != w and o in w for o in self._needles)
        )
        tails = sorted({b for _a, b in self.bigrams if not any(n in b for n in self._min_needles)})
        heads = sorted({a for a, b in self.bigrams if b in tails}, key=len, reverse=True)
        self._bigram_tail = (
            re.compile(
                "(?:{})[^0-9a-z\n]*(?:{})".format(
                    "|".join(re.escape(b[::-1]) for b in tails),
                    "|".join(re.escape(a[::-1]) for a in heads),
                )
            )
            if tails
            else None
        )
        # where a run of MSE204's characters, min_run of them at least, starts
        self._long_run = (
            re.compile(f"(?<![{wide[0].spec}])[{wide[0].spec}]{{{self.min_run},}}")
            if wide
            else None
        )
        self._runs: dict[str, bool] = {}
        # every character set requires a digit (of its ASCII characters): a value without one
        # has no run to judge (most prose)
        self._needs_digit = (
            re.compile("[0-9]").search
            if self.charsets and all("digit" in cs.require for cs in self.charsets)
            else None
        )

    # == prefilter ===============================================================================
    @functools.cached_property
    def formats(self) -> list[Union[re.Pattern[str], UserRegex]]:
        """MSE202's credential formats, which MSE204 leaves to MSE202. Compiled when a literal
        first gets that far: most files never need them, and compiling them all was most of
        the start-up of a one-file run."""
        out: list[Union[re.Pattern[str], UserRegex]] = []
        for regex in self._format_sources:
            try:
                out.append(re.compile(regex))
            except re.error:
                continue
        # the user's, with a time budget each (mse_lint.core.userregex)
        for fid, regex in self._user_formats:
            out.append(UserRegex(regex, f"secrets.extra-patterns `{fid}`"))
        return out

    def wants(self, text: str) -> bool:
        """The file has a string literal: every finding is on one. Which literals can be
        reported is decided on their values, in :meth:`may_report`: a test on the source text
        would have to see through escapes, implicit concatenation, f-string braces and
        normalised identifiers to be sure. A comment can hold a URL with a password (MSE203)."""
        return "'" in text or '"' in text or "://" in text

    def may_judge(self, text: str) -> bool:
        """The source-text gate of a run that only asks what to mask (none of this family's
        rules selected, see mse_lint.core.redact): what ``may_report`` needs, looked for in the
        source instead of the literals' values, so that most files are not parsed for it. A
        URL with a user part, a run of MSE204's characters with a digit, a secret word or a
        bigram of the names, or a callee taking a password. Literals that hold one of these
        only through escapes (``"\\x3a//"``) are not judged then."""
        if not self.wants(text):
            return False
        if "://" in text and "@" in text:
            return True
        if self._long_run is not None:
            digit = self._needs_digit
            for m in self._long_run.finditer(text):
                if digit is None or digit(m.group()):
                    return True
        low = text.lower()
        if any(w in low for w in self._min_needles):
            return True
        if self._bigram_tail is not None and self._bigram_tail.search(low[::-1]):
            return True
        return not self._password_callees.isdisjoint(file_words(text))

    def may_report(self, ctx: FileContext) -> Optional[bool]:
        """Whether one of the file's str / bytes literals could be reported, from the
        conditions of each rule that depend neither on the name nor on the call a literal is
        bound to, applied to the literals' values (f-string parts included): None when none
        can be (most files: they skip the pass), False when only MSE201 can be (the pass then
        looks only for secret names), True when MSE203 or MSE204 can be too."""
        constant = ast.Constant
        raw: list[Any] = [n.value for n in ctx.nodes if type(n) is constant]
        values = [
            v if isinstance(v, str) else v.decode("latin-1")
            for v in raw
            if isinstance(v, (str, bytes))
        ]
        if not values:
            return None
        # MSE203 (url_credentials)
        for v in values:
            if "://" in v and "@" in v:
                return True
        # MSE204: high_entropy(v, context) is None or high_entropy(v), which needs a run of v
        # with a piece _judge_run takes
        if self._long_run is not None:
            least = self.min_run
            digit = self._needs_digit
            for v in values:
                if len(v) >= least and (digit is None or digit(v)) and self._entropic_runs(v):
                    return True
        # MSE201: a secret name, and a value secret_part takes for a name of that kind
        kind = self._loosest_kind(ctx, values)
        if (
            kind is not None
            and (
                any(self._secret_span("", v, kind) is not None for v in values)
                or any(  # the value of an option with its value: "--password=..."
                    self._secret_span("", v.partition("=")[2], kind) is not None
                    for v in values
                    if v[:1] == "-" and "=" in v
                )
            )
        ):
            return False
        return None

    def _entropic_runs(self, value: str) -> bool:
        """A run of ``value`` that high_entropy finds has a piece _judge_run takes."""
        finder = self.run_finder
        assert finder is not None and self._long_run is not None
        for hint in self._long_run.finditer(value):
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

    def _loosest_kind(self, ctx: FileContext, values: list[str]) -> Optional[str]:
        """The kind (see name_kind) of the file's secret names that lets most values through,
        or None when it has none. A literal is bound to an identifier (a target, keyword,
        parameter, callee taking a password) or to a string literal (a dict or subscript key,
        ``getenv("...")``, an option string)."""
        text = ctx.source
        if text.isascii():  # each identifier is a maximal run of word characters of the text
            identifiers: frozenset[str] = file_words(text)
        else:  # identifiers are NFKC-normalised: take them from the tree
            identifiers = _identifiers(ctx.nodes)
        best: Optional[str] = None
        if not self._password_callees.isdisjoint(identifiers):
            best = self.name_kind("password")  # smtp.login(user, "...")
        names = [*identifiers]
        odd: list[str] = []  # names with a line break: not in the one-name-a-line text of _hinted
        long_templates: list[str] = []
        for v in values:
            if len(v) <= 80:  # longer ones are never secret names
                if not v.startswith("-"):
                    (odd if "\n" in v else names).append(v)
                    continue
                for name in (v, v.lstrip("-")):
                    (odd if "\n" in name else names).append(name)
                if "=" in v:  # ["mysql", "--password=..."]
                    names.append(v.lstrip("-").partition("=")[0])
            elif "%" in v or "{" in v:
                long_templates.append(v.replace("\n", " "))
        hinted = self._hinted(names)
        if long_templates:
            hinted += self._hinted(long_templates)
        # "password=%s" % "...": the names a template gives hold a secret word only when the
        # template does, so only the templates _hinted keeps are read
        keys = [
            key
            for template in [*odd, *hinted]
            if "%" in template or "{" in template
            for key in self.template_keys(template)
        ]
        for name in [*odd, *hinted, *keys]:
            kind = self.name_kind(name)
            if kind is not None and (best is None or _KIND_RANK[kind] > _KIND_RANK[best]):
                best = kind
                if kind == "human":
                    break
        return best

    def _hinted(self, names: list[str]) -> list[str]:
        """The ``names`` (none holding a line break) that may be secret names. name_kind finds
        a secret word, a weak last word or a bigram among the ASCII words of a name (letters
        and digits; anything else separates them), lower-cased: the others have no secret word
        in their lower case, and no bigram's words one after the other with only separators
        between them."""
        joined = "\n".join(names)
        if "\u0130" in joined or "\u212a" in joined:
            return names  # the two characters whose lower case holds an ASCII letter
        low = joined.lower()
        hits: list[int] = []
        for word in self._min_needles:
            at = low.find(word)
            while at >= 0:
                hits.append(at)
                at = low.find(word, at + 1)
        if self._bigram_tail is not None:
            # a bigram whose second word holds no needle: its words, backwards
            back = low[::-1]
            end = len(low)
            hits.extend(end - m.end() for m in self._bigram_tail.finditer(back))
        if not hits:
            return []
        lines = {low.count("\n", 0, at) for at in hits}
        return [names[i] for i in sorted(lines)]

    # == names ===================================================================================
    def words(self, name: str) -> list[str]:
        """``dbPassword`` / ``DB_PASSWORD`` / ``db-password`` -> ["db", "password"]."""
        out: list[str] = []
        for chunk in _SEP.split(name):
            if chunk:
                out.extend(w.lower() for w in self._word.findall(chunk))
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
        if not name or len(name) > 80 or name.count(" ") > 1 or not self._hint.search(name):
            return None
        if ":" in name or "/" in name:
            return None  # "AWS::IAM::AccessKey", "api/token": a type name, a route, not a name
        words = self.words(name)
        if not words:
            return None
        for n, suffixes in self.metadata.items():
            if len(words) > n and tuple(words[-n:]) in suffixes:
                return None
        kind: Optional[str] = None
        for i, word in enumerate(words):
            before = words[i - 1] if i else ""
            stem = self._secret_stem(word)
            if stem is not None:
                if stem[1]:
                    before = stem[1]  # csrftoken: "csrf" comes before "token"
                if (stem[0], before) in self.neutral:
                    continue
                if stem[0] in self.human:
                    return "human"
                kind = "machine"
            elif i and (before, word) in self.bigrams:
                if word in self.human:
                    return "human"
                kind = "machine"
        if kind is None:
            core = words
            while len(core) > 1 and core[-1].isdigit():
                core = core[:-1]  # auth2
            if core[-1] in self.weak:
                kind = "weak"
        return kind

    def pair_name(self, name: str) -> bool:
        """A name whose (user, password) pair holds a password: ``auth=("admin", "...")``."""
        words = self.words(name)
        return bool(words) and words[-1] in self.pair_words

    def _secret_stem(self, word: str) -> Optional[tuple[str, str]]:
        """(secret word, what precedes it inside ``word``) when ``word`` is a secret word."""
        if word in self.strong:
            return word, ""
        for c in self.compound:
            if word.endswith(c) and len(word) > len(c):
                return c, word[: -len(c)]
        return None

    # == values of secret names (MSE201) =========================================================
    def allowed(self, value: str) -> bool:
        return self.settings.secrets.allows(value)

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
        for scheme in self.schemes:
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
        if len(v) < self.min_length or "://" in v:
            return True
        if _SPACE.search(v):
            return True  # prose ("Enter your password"), labels, several words
        if self.placeholder is not None and self.placeholder.search(v):
            return True
        if self.not_secret is not None and self.not_secret.fullmatch(v):
            return True
        if v.startswith(self.path_starts) or self.file_name.fullmatch(v):
            return True
        if "/" in v and all(re.fullmatch(r"[a-z0-9_.-]*", p) for p in v.split("/")):
            return True  # a relative path or a route: static/js, api/v1/token
        low = v.lower()
        if low in self.translations or low in self.setting_words or self._label(v):
            return True
        nv, nn = _norm(v), _norm(name)
        if nv and (nv in nn or (nn and nn in nv and nv.isalpha())):
            return True  # repeats the name: PASSWORD = "password", {"NextToken": "NextToken"}
        if nv.isalpha() and any(w in nv for w in self.compound):
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
        return len(v) < self.short_length and not mixed

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
        if low.endswith(self._spaced_schemes):  # "Authorization: Bearer "
            scheme = next(s for s in self._spaced_schemes if low.endswith(s))
            prefix = prefix[: -len(scheme)]
        m = self.template_key_regex.search(prefix[-120:])
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
        return any(w in self.flag_words for w in self.words(name))

    # == URLs (MSE203) ===========================================================================
    def url_credentials(self, text: str) -> list[UrlCredential]:
        if "://" not in text or "@" not in text:
            return []
        out = []
        for m in self.url.finditer(text):
            user, pw = m.group("user"), m.group("password")
            if pw == user or all(p in self.example_passwords for p in pw.lower().split("@")):
                continue  # "foo:bar@baz@host" is made of examples too
            if self.url_placeholder is not None and self.url_placeholder.search(pw):
                continue
            if self.allowed(pw) or self.allowed(text):
                continue
            out.append(UrlCredential(user, m.start("password"), m.end("password")))
        return out

    # == entropy (MSE204) ========================================================================
    def high_entropy(self, value: str, context: Sequence[str] = ()) -> Optional[Entropic]:
        """The first random-looking run of ``value``, unless the context (the names the value
        is bound to or passed to) marks it as a checksum, an identifier or a test vector."""
        if self.run_finder is None or len(value) < self.min_run:
            return None
        for name in context:
            if _FILE_KEY.fullmatch(name) or self._context_name(name):
                return None  # EXPECTED_SHA256 = "...", {"ascent.dat": "<sha256>"}
        if value.startswith(self.data_prefixes) or self.allowed(value):
            return None
        if self.placeholder is not None and self.placeholder.search(value):
            return None  # "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
        if self.value_data is not None and self.value_data.search(value):
            return None
        for m in self.run_finder.finditer(value):
            if m.end() - m.start() < self.min_run:
                continue
            for start, end in self._pieces(m.group(), m.start()):
                found = self._judge_run(value[start:end])
                if found is None:
                    continue
                # "Signature: 8a47...", "sha256=9f86...", "/blob/89aa...": the words before it
                lead = self.words(value[max(0, start - 24) : start])[-2:]
                if any(w in self.context_words for w in lead):
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
                any(w in self.context_words for w in self.words(name))
                or _norm(name) in self.context_words  # "ETag" splits into "e" and "tag"
                or bool(self._long_context and self._long_context.search(name))
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
            if len(p) >= self.min_run:
                out.append((at, at + len(p)))
            at += len(p) + 1
        return out

    def _judge_run(self, run: str) -> Optional[tuple[float, str]]:
        core = run.rstrip("=")
        if self.uuid.fullmatch(run) or run.startswith(self.data_prefixes):
            return None
        if self.data_regex is not None and self.data_regex.match(run):
            return None
        if self.allowed(run) or self.identifier.fullmatch(run):
            return None
        for cs in self.charsets:
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
        tokens = self.token.findall(s)
        return bool(tokens) and sum(map(len, tokens)) >= self.token_length * len(tokens)

    def _sequential(self, s: str, ascending: bool = True) -> bool:
        """Most neighbours follow each other in an alphabet or on a keyboard row ("abcdef",
        "123456", "qwerty"), or (``ascending``, for long runs) the characters are sorted
        (base58 and other alphabet constants)."""
        n = len(s) - 1
        if n <= 0:
            return True
        follow = sum((a, b) in self.pairs for a, b in zip(s, s[1:]))
        if follow >= self.sequential_ratio * n:
            return True
        return ascending and sum(a < b for a, b in zip(s, s[1:])) >= self.ascending_ratio * n

    # == the pass ================================================================================
    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        possible = self.may_report(ctx)
        out = [] if possible is None else _Pass(self, ctx, secrets_only=not possible).run()
        in_comments = self.comment_urls(ctx)
        if in_comments:
            out = sorted([*out, *in_comments], key=lambda d: (d.span, d.rule))
        return out

    def comment_urls(self, ctx: FileContext) -> list[Diagnostic]:
        """MSE203 for the URLs with a password in comments: comments ship with the code. The
        file is tokenized only when a line has such a URL after a ``#``, which few files have."""
        text = ctx.source
        if "#" not in text or "@" not in text:
            return []
        lines: set[int] = set()
        at = text.find("://")
        while at >= 0:
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            end = len(text) if end < 0 else end
            hash_at = text.find("#", start, at)
            if hash_at >= 0 and self.url_credentials(text[hash_at:end]):
                lines.add(text.count("\n", 0, at) + 1)
            at = text.find("://", end)
        if not lines:
            return []
        import io
        import tokenize

        out = []
        try:
            for tok in tokenize.generate_tokens(io.StringIO(text).readline):
                if tok.type != tokenize.COMMENT or tok.start[0] not in lines:
                    continue
                line, col = tok.start  # tokenize's columns are characters
                for cred in self.url_credentials(tok.string):
                    pw = tok.string[cred.start : cred.end]
                    first = col + cred.start  # 0-based
                    out.append(
                        ctx.diagnostic(
                            "MSE203",
                            ctx.tree,
                            None,
                            user=cred.user or "(none)",
                            value=redact(pw),
                            _secret=True,
                            _span=Span(line, first + 1, line, first + 1 + len(pw)),
                        )
                    )
        except (tokenize.TokenError, SyntaxError, IndentationError):  # pragma: no cover
            return out
        return out


# printf-style conversions: %s, %(name)s, %-10r, %%; a `*` width or precision takes an argument.
# Compiled when a file first has a % template with a literal argument.
_PERCENT = LazyPattern(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?[hlL]?"
    r"(?P<conv>[diouxXeEfFgGcrsa%])"
)
# where a % or a { placeholder may start (the file gate's template_keys)
_PLACEHOLDER_START = LazyPattern(r"[%{]")


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


_ESCAPE = re.compile(
    r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\}|[0-7]{1,3}|.)"
)


def _source_offsets(body: str, raw: bool, length: int) -> Optional[list[int]]:
    """For each character of a one-line literal's value (and its end), its offset in the
    literal's ``body`` as written, escapes included; None when the body is not exactly one
    literal of ``length`` characters (implicit concatenation, f-string)."""
    if raw or "\\" not in body:
        return list(range(len(body) + 1)) if len(body) == length else None
    out: list[int] = []
    i = 0
    while i < len(body):
        out.append(i)
        m = _ESCAPE.match(body, i) if body[i] == "\\" else None
        i = m.end() if m else i + 1
    out.append(len(body))
    return out if len(out) == length + 1 else None


def _lazy(pattern: str, flags: int = 0) -> LazyPattern:
    return LazyPattern(pattern, flags)


def _union(patterns: Sequence[str], flags: int) -> Optional[LazyPattern]:
    """One regex matching any of ``patterns`` (invalid ones are skipped), or None."""
    if not patterns:
        return None
    return LazyPattern(build=functools.partial(_compile_union, tuple(patterns), flags))


def _compile_union(patterns: tuple[str, ...], flags: int) -> re.Pattern[str]:
    try:  # the usual case: every pattern valid, one compilation
        return re.compile("|".join(f"(?:{p})" for p in patterns), flags)
    except re.error:
        pass
    ok = []
    for p in patterns:
        try:
            re.compile(p)
        except re.error:
            continue
        ok.append(f"(?:{p})")
    return re.compile("|".join(ok) or r"(?!)", flags)


def _charset(name: str, raw: Mapping[str, Any]) -> Charset:
    chars = str(raw.get("charset", "A-Za-z0-9"))
    pad = re.escape(str(raw.get("padding", "")))
    run = re.compile(f"[{chars}]+{pad}{{0,2}}" if pad else f"[{chars}]+")
    members = frozenset(chr(i) for i in range(32, 127) if re.fullmatch(f"[{chars}]", chr(i)))
    return Charset(
        name=name,
        spec=chars,
        run=run,
        chars=members,
        min_length=int(raw.get("min_length", 20)),
        max_length=int(raw.get("max_length", 1000)),
        threshold=float(raw.get("threshold", 4.5)),
        scale=float(raw.get("scale", 1.0)),
        require=tuple(_strings(raw.get("require"))),
    )


class _Bound(Mutable):
    node: StrNode
    name: str  # the name MSE201 judges ("" when only passed to a call)
    shown: str  # the name as messages show it (self.password)
    context: tuple[str, ...]  # names that qualify the value (MSE204): target, callee
    secret_name: bool  # MSE201 judges it
    construct: str  # how it is bound, when not by a name (a key of [secret_values.constructs])
    at: int  # where the value starts in the literal ("--password=...")

    def __init__(
        self,
        node: StrNode,
        name: str,
        shown: str,
        context: tuple[str, ...],
        secret_name: bool,
        construct: str = "",
        at: int = 0,
    ) -> None:
        self.node = node
        self.name = name
        self.shown = shown
        self.context = context
        self.secret_name = secret_name
        self.construct = construct
        self.at = at


def _callee(func: ast.expr) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    elif parts:
        parts.append("…")
    return ".".join(reversed(parts))


def _called(callee: str) -> str:
    return f"{callee}()" if callee else ""


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))


_IDENTIFIER_FIELDS: dict[type, str] = {
    ast.Name: "id",
    ast.Attribute: "attr",
    ast.arg: "arg",
    ast.keyword: "arg",
}


def _identifiers(nodes: Iterable[ast.AST]) -> frozenset[str]:
    """The identifiers a literal can be bound to: names, attributes, keywords, parameters."""
    field = _IDENTIFIER_FIELDS.get
    found = {getattr(n, f) for n in nodes if (f := field(type(n))) is not None}
    found.discard(None)  # **kwargs
    return frozenset(found)


class _Pass:
    """One walk over a file's tree: collect the bound literals, check URLs on the way."""

    def __init__(
        self, check: SecretValuesCheck, ctx: FileContext, secrets_only: bool = False
    ) -> None:
        self.c = check
        self.ctx = ctx
        # only MSE201 can find anything (may_report): no URL to look for, and a literal not
        # bound to a secret name cannot be reported
        self.secrets_only = secrets_only
        self.bound: dict[int, _Bound] = {}
        self.fstring_parts: set[int] = set()
        self.dict_names: dict[int, str] = {}
        self.out: list[Diagnostic] = []
        self.done: set[int] = set()  # literals reported by MSE201 / MSE203
        self.handlers: dict[type, Callable[[Any], None]] = {
            ast.Assign: self.visit_assign,
            ast.AnnAssign: self.visit_annassign,
            ast.NamedExpr: self.visit_namedexpr,
            ast.Dict: self.visit_dict,
            ast.Call: self.visit_call,
            ast.FunctionDef: self.visit_function,
            ast.AsyncFunctionDef: self.visit_function,
            ast.Lambda: self.visit_function,
            ast.Compare: self.visit_compare,
            ast.List: self.visit_sequence,
            ast.Tuple: self.visit_sequence,
            ast.BinOp: self.visit_binop,
            ast.JoinedStr: self.visit_fstring,
        }
        if not secrets_only:
            self.handlers[ast.Constant] = self.visit_constant

    def run(self) -> list[Diagnostic]:
        # the file's shared node list: breadth-first, so an ancestor comes before its
        # descendants (an f-string before its parts, an assignment before its dict, a call
        # before its arguments), which is all the bindings need: every handler binds only
        # literals below its node, and which binding of a literal is kept depends on their
        # order (add), the same top-down in any walk
        handlers = self.handlers
        for node in self.ctx.nodes:
            handler = handlers.get(type(node))
            if handler is not None:
                handler(node)
        for b in list(self.bound.values()):
            if b.secret_name:
                self.judge_secret(b)
        if not self.secrets_only:
            for b in self.bound.values():
                if id(b.node) not in self.done:
                    self.judge_entropy(b)
        self.out.sort(key=lambda d: (d.span, d.rule))
        self.handlers = {}  # its bound methods refer back to the pass: no cycle left behind
        return self.out

    # -- binding literals to names ---------------------------------------------------------------
    def bind(
        self,
        value: Optional[ast.AST],
        name: str,
        context: tuple[str, ...] = (),
        shown: str = "",
    ) -> None:
        """``value`` is bound to ``name`` (judged by MSE201; ``shown`` in messages)."""
        if value is None:
            return
        if self.secrets_only and not (name and self.c.secret_name(name)):
            return  # what it would bind is bound to this name or to none
        if isinstance(value, ast.Call):
            # password = models.CharField(default="..."), key = Signer("...")
            callee = _callee(value.func)
            for kw in value.keywords:
                if kw.arg == "default" and name:
                    self.bind(kw.value, name, (callee,), shown)
            for arg in value.args:
                if _is_string(arg):
                    self.add(arg, "", _called(callee), (name, callee), False)  # type: ignore[arg-type]
            return
        if (
            isinstance(value, (ast.Tuple, ast.List))
            and len(value.elts) == 2
            and name
            and self.c.pair_name(name)
        ):  # auth=("admin", "...") holds a user name and a password
            self.bind(value.elts[1], name, context, shown)
            return
        if _is_string(value):
            secret = bool(name) and self.c.secret_name(name)
            self.add(value, name, shown or name, (name, *context), secret)  # type: ignore[arg-type]

    def add(
        self,
        node: StrNode,
        name: str,
        shown: str,
        context: tuple[str, ...],
        secret: bool,
        construct: str = "",
        at: int = 0,
    ) -> None:
        old = self.bound.get(id(node))
        if old is not None and (old.secret_name or not secret):
            return
        self.bound[id(node)] = _Bound(
            node, name, shown, tuple(c for c in context if c), secret, construct, at
        )

    def bind_construct(
        self, node: ast.AST, name: str, shown: str, construct: str, at: int = 0
    ) -> None:
        """``node``, a literal, is bound to ``name`` by a command line or a template: judged by
        MSE201 when the name is a secret name, otherwise left as it was (MSE204 keeps the
        bindings it had)."""
        if _is_string(node) and self.c.secret_name(name):
            self.add(node, name, shown, (name,), True, construct, at)  # type: ignore[arg-type]

    def target_name(self, target: ast.AST) -> str:
        if isinstance(target, ast.Name):
            return target.id
        if isinstance(target, ast.Attribute):
            return target.attr
        if isinstance(target, ast.Subscript):
            key: Any = target.slice
            if isinstance(key, ast.Index):  # pragma: no cover - Python 3.8
                key = key.value  # type: ignore[attr-defined]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                return key.value
        if isinstance(target, ast.Starred):
            return self.target_name(target.value)
        return ""

    def shown(self, target: ast.AST) -> str:
        """The name as messages show it: ``self.password``, ``DB_PASSWORD``, ``password``."""
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            return f"{target.value.id}.{target.attr}"
        return self.target_name(target)

    def assign(self, target: ast.AST, value: Optional[ast.AST]) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts):
                    self.assign(t, v)
            return
        name = self.target_name(target)
        if name:
            self.bind(value, name, shown=self.shown(target))

    # -- the node types --------------------------------------------------------------------------
    def visit_assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self.assign(t, node.value)
        if isinstance(node.value, ast.Dict) and node.targets:
            self.dict_names[id(node.value)] = self.target_name(node.targets[0])

    def visit_annassign(self, node: ast.AnnAssign) -> None:
        self.assign(node.target, node.value)

    def visit_namedexpr(self, node: ast.NamedExpr) -> None:
        self.assign(node.target, node.value)

    def visit_dict(self, node: ast.Dict) -> None:
        outer = self.dict_names.get(id(node), "")  # INT_FUNC_HASHES = {"binomial": "..."}
        for k, v in zip(node.keys, node.values):
            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                if isinstance(v, ast.Dict):
                    self.dict_names[id(v)] = k.value
                self.bind(v, k.value, (outer,))

    def visit_call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "format":
            template = _string_value(func.value)
            if template is not None and "{" in template:
                self.visit_format(node, template)
        callee = _callee(func)
        last = callee.rsplit(".", 1)[-1]
        for kw in node.keywords:
            if kw.arg:
                self.bind(kw.value, kw.arg, (callee,))
        args = node.args
        key = _string_value(args[0]) if args else None
        if key is not None:
            if last in self.c.key_value_calls and len(args) >= 2:
                self.bind(args[1], key, (callee,))  # os.getenv("DB_PASSWORD", "...")
            elif _OPTION.fullmatch(key):  # parser.add_argument("--password", default="...")
                for kw in node.keywords:
                    if kw.arg == "default":
                        self.bind(kw.value, key.lstrip("-"), (callee,))
        index = self.c.password_args.get(last)
        if index is not None and len(args) > index:
            self.bind(args[index], "password", (callee,), f"{callee}()")  # smtp.login(u, "...")
        if last in self.c.attribute_value_calls and len(args) >= 3:
            attr = _string_value(args[1])
            if attr is not None:
                self.bind(args[2], attr, (callee,))  # setattr(cfg, "password", "...")
        strings = [] if self.secrets_only else [a for a in args if _is_string(a)]
        if strings:
            # the other short strings of the call qualify each one: check("md5", b"", "d41d...")
            words = tuple(
                v for v in (_string_value(a) for a in strings) if v is not None and len(v) <= 24
            )
            for arg in strings:
                self.add(arg, "", _called(callee), (callee, *words), False)  # type: ignore[arg-type]

    def visit_function(
        self, node: Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda]
    ) -> None:
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        for a, d in zip(positional[len(positional) - len(args.defaults) :], args.defaults):
            self.bind(d, a.arg)
        for a, kd in zip(args.kwonlyargs, args.kw_defaults):
            self.bind(kd, a.arg)

    def visit_compare(self, node: ast.Compare) -> None:
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:]):
            if not isinstance(op, (ast.Eq, ast.NotEq)):
                continue
            for a, b in ((left, right), (right, left)):
                if _is_string(b):
                    name = self.operand_name(a)
                    if name and self.c.secret_name(name):
                        self.bind(b, name, shown=self.shown(a) or name)

    def operand_name(self, node: ast.AST) -> str:
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "get" and node.args:
                return _string_value(node.args[0]) or ""  # headers.get("X-Api-Key") == "..."
            return ""
        return self.target_name(node)

    def visit_fstring(self, node: ast.JoinedStr) -> None:
        prefix = ""  # the constant text since the previous field
        for part in node.values:
            text = _string_value(part)
            if text is not None:
                prefix += text
                if not self.secrets_only:
                    self.fstring_parts.add(id(part))
                    self.urls(node, text, exact=False)
            elif isinstance(part, ast.FormattedValue):
                # f"token={'...'}": a literal in a field is formatted into the string
                key = self.c.template_key(prefix)
                if key:
                    self.bind_construct(part.value, key.lstrip("-"), key, "fstring")
                prefix = ""

    # -- command lines and templates (MSE201) ----------------------------------------------------
    def visit_sequence(self, node: Union[ast.List, ast.Tuple]) -> None:
        """An argument list: ``["mysql", "--password=...", ...]``, ``["cli", "--token", "..."]``."""
        elts = node.elts
        for i, elt in enumerate(elts):
            if not (isinstance(elt, ast.Constant) and isinstance(elt.value, str)):
                continue
            text = elt.value
            if not text.startswith("-"):
                continue
            m = self.c.argv_option.fullmatch(text)
            if m is not None:
                name = m.group("name")
                shown = text[: m.start("value") - 1]
                self.bind_construct(elt, name, shown, "argv_value", m.start("value"))
                continue
            m = self.c.argv_long.fullmatch(text)
            if m is None or i + 1 >= len(elts) or self.c.option_takes_no_value(m.group("name")):
                continue
            after = elts[i + 1]
            value = _string_value(after)
            if value is not None and not value.startswith("-"):
                self.bind_construct(after, m.group("name"), text, "argv_next")

    def visit_binop(self, node: ast.BinOp) -> None:
        """``"password=%s" % "..."``, ``"user=%s password=%s" % ("app", "...")``."""
        if not isinstance(node.op, ast.Mod):
            return
        template = _string_value(node.left)
        if template is None or "%" not in template:
            return
        right = node.right
        args = right.elts if isinstance(right, ast.Tuple) else [right]
        mapping = (
            {k.value: v for k, v in zip(right.keys, right.values) if isinstance(k, ast.Constant)}
            if isinstance(right, ast.Dict)
            else None
        )
        index, last = 0, 0
        for m in _PERCENT.finditer(template):
            if m.group("conv") == "%":
                continue
            if "*" in (m.group("width") or "") + (m.group("prec") or ""):
                return  # a width taken from the arguments: the positions are not known
            key = self.c.template_key(template[last : m.start()])
            last = m.end()
            name = m.group("name")
            if name is not None:
                arg = mapping.get(name) if mapping is not None else None
            else:
                arg = args[index] if mapping is None and index < len(args) else None
                index += 1
            if key and arg is not None:
                self.bind_construct(arg, key.lstrip("-"), key, "percent")

    def visit_format(self, node: ast.Call, template: str) -> None:
        """``"token: {}".format("...")``, ``"{0} token={1}".format(user, "...")``."""
        import string

        try:
            fields = list(string.Formatter().parse(template))
        except ValueError:
            return  # not a valid format string: str.format would raise
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        auto = 0
        for text, field, _spec, _conversion in fields:
            if field is None:
                continue
            key = self.c.template_key(text)
            arg: Optional[ast.AST] = None
            if field == "":
                arg = node.args[auto] if auto < len(node.args) else None
                auto += 1
            elif field.isdigit():
                arg = node.args[int(field)] if int(field) < len(node.args) else None
            elif field.isidentifier():
                arg = keywords.get(field)
            if key and arg is not None:
                self.bind_construct(arg, key.lstrip("-"), key, "format")

    def visit_constant(self, node: ast.Constant) -> None:
        if id(node) not in self.fstring_parts:
            text = _string_value(node)
            if text is not None and "://" in text:
                self.urls(node, text, exact=True)

    # -- MSE201 ----------------------------------------------------------------------------------
    def judge_secret(self, b: _Bound) -> None:
        node = b.node
        value = _string_value(node)
        if value is None:
            return
        where = self.c.secret_part(b.name, value[b.at :])
        if where is None:
            return
        start = b.at + where[0]
        secret = value[start : b.at + where[1]]
        self.done.add(id(node))
        self.out.append(
            self.ctx.diagnostic(
                "MSE201",
                node,
                self.stmt_of(node),
                name=b.shown,
                construct=self.c.constructs.get(b.construct, "") if b.construct else "",
                value=redact(secret),
                _secret=True,
                _span=self.locate(node, value, start, secret),
            )
        )

    # -- MSE203 ----------------------------------------------------------------------------------
    def urls(self, node: StrNode, text: str, exact: bool) -> None:
        for cred in self.c.url_credentials(text):
            pw = text[cred.start : cred.end]
            self.done.add(id(node))
            before = text[: cred.start][-40:]
            self.out.append(
                self.ctx.diagnostic(
                    "MSE203",
                    node,
                    self.stmt_of(node),
                    user=cred.user or "(none)",
                    value=redact(pw),
                    _secret=True,
                    _span=self.locate(node, text if exact else "", cred.start, pw, before),
                )
            )

    # -- MSE204 ----------------------------------------------------------------------------------
    def judge_entropy(self, b: _Bound) -> None:
        node = b.node
        value = _string_value(node)
        if value is None or not isinstance(node, ast.Constant):
            return
        found = self.c.high_entropy(value, b.context)
        if found is None:
            return
        secret = value[found.start : found.end]
        shown = b.shown or "a call argument"
        self.out.append(
            self.ctx.diagnostic(
                "MSE204",
                node,
                self.stmt_of(node),
                name=shown,
                value=redact(secret),
                entropy=found.entropy,
                _secret=True,
                _span=self.locate(node, value, found.start, secret),
            )
        )

    # -- positions -------------------------------------------------------------------------------
    def stmt_of(self, node: ast.AST) -> Optional[ast.AST]:
        """The innermost statement holding ``node`` (for suppression comments); found from the
        top only for the few literals that are reported."""
        line = getattr(node, "lineno", 0)
        col = getattr(node, "col_offset", 0)
        body: list[ast.stmt] = self.ctx.tree.body
        found: Optional[ast.AST] = None
        while body:
            inner: list[ast.stmt] = []
            for s in body:
                first = min([s.lineno, *(d.lineno for d in getattr(s, "decorator_list", ()))])
                end = (getattr(s, "end_lineno", None) or s.lineno, s.end_col_offset or 0)
                if (first, 0) <= (line, col) < end:
                    found = s
                    for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                        for child in getattr(s, field, None) or ():
                            if isinstance(child, ast.stmt):
                                inner.append(child)
                            else:  # except handlers, match cases
                                inner.extend(getattr(child, "body", ()))
                    break
            body = inner
        return found

    def locate(
        self, node: ast.AST, value: str, start: int, secret: str, before: str = ""
    ) -> Optional[Span]:
        """The span of ``secret`` (at ``start`` of the literal's ``value``) in the source: exact
        for a plain one-line literal, found by search in the literal's lines otherwise (escapes,
        implicit concatenation, f-strings), the whole literal as a last resort."""
        ctx = self.ctx
        line = getattr(node, "lineno", 0)
        end_line = getattr(node, "end_lineno", None) or line
        lines = ctx.lines
        if not (1 <= line <= end_line <= len(lines)) or not secret:
            return None
        c0 = ctx.char_col(line, getattr(node, "col_offset", 0)) - 1
        c1 = ctx.char_col(end_line, getattr(node, "end_col_offset", 0) or 0) - 1
        if line == end_line:
            seg = lines[line - 1][c0:c1]
            m = _QUOTE.match(seg)
            if m and value and seg.endswith(m.group(2)) and len(seg) >= 2 * len(m.group(2)):
                body_at = m.end()
                body = seg[body_at : len(seg) - len(m.group(2))]
                at = _source_offsets(body, "r" in m.group(1).lower(), len(value))
                if at is not None:
                    col = c0 + body_at + at[start] + 1
                    end = c0 + body_at + at[start + len(secret)] + 1
                    return Span(line, col, line, end)
            anchor = seg.find(before + secret) if before else -1
            idx = anchor + len(before) if anchor >= 0 else seg.find(secret)
            if idx >= 0:
                col = c0 + idx + 1
                return Span(line, col, line, col + len(secret))
            return None
        for n in range(line, end_line + 1):
            text = lines[n - 1]
            lo = c0 if n == line else 0
            hi = c1 if n == end_line else len(text)
            idx = text.find(secret, lo, hi)
            if idx >= 0:
                return Span(n, idx + 1, n, idx + 1 + len(secret))
        return None
