"""The settings of MSE201, MSE203 and MSE204, read once: ``[secret_values]`` of rules/secrets.toml
(word lists, patterns, thresholds), MSE202's format patterns (which MSE204 leaves to MSE202) and
the user's ``[secrets]`` settings, as one typed object, with what the prefilters derive from them.

The judges (mse_lint.checks.secret_judges) and the tree pass (mse_lint.checks.secret_pass) read
these attributes; nothing here judges a value. Patterns are :class:`LazyPattern`: compiled when
a file first needs them.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from mse_lint.checks import LazyPattern
from mse_lint.core.catalog import Catalog
from mse_lint.core.record import Frozen
from mse_lint.core.settings import SecretSettings, Settings

# the words of a camelCase or PascalCase name, and the fallback token of MSE204's identifiers
CAMEL = r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+"


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

    def limit(self, n: int) -> float:
        """The entropy a candidate of ``n`` characters must exceed."""
        return min(self.threshold, self.scale * math.log2(max(n, 2)))


class SecretValueSettings:
    """Everything the secret-value rules are tuned by, read from the catalogue and the user's
    settings when the check is made."""

    # -- names (MSE201) -----------------------------------------------------------------------
    strong: frozenset[str]  # secret words: password, token...
    weak: frozenset[str]  # secret words only as the last word of a name: auth
    human: frozenset[str]  # secrets people choose (a plain word can be one)
    pair_words: frozenset[str]  # names whose (user, password) pair holds a password
    compound: tuple[str, ...]  # secret words that end a word: csrftoken
    bigrams: frozenset[tuple[str, str]]  # two words that make a secret name: private key
    metadata: dict[int, set[tuple[str, ...]]]  # by length: suffixes that describe a secret
    neutral: frozenset[tuple[str, str]]  # (secret word, word before it) that is no secret
    word: LazyPattern  # one word of a name
    key_value_calls: frozenset[str]  # getenv("NAME", "value")
    attribute_value_calls: frozenset[str]  # setattr(obj, "name", "value")
    password_args: dict[str, int]  # callee: the position of its password argument
    # -- values (MSE201) ----------------------------------------------------------------------
    min_length: int
    short_length: int
    schemes: tuple[str, ...]  # authorization schemes before a credential, longest first
    placeholder: Optional[LazyPattern]
    not_secret: Optional[LazyPattern]
    path_starts: tuple[str, ...]
    file_name: LazyPattern
    translations: frozenset[str]
    setting_words: frozenset[str]
    # -- URLs (MSE203) ------------------------------------------------------------------------
    url: LazyPattern
    url_placeholder: Optional[LazyPattern]
    example_passwords: frozenset[str]
    # -- command lines and templates (MSE201) -------------------------------------------------
    argv_option: LazyPattern
    argv_long: LazyPattern
    flag_words: frozenset[str]
    template_key_regex: LazyPattern
    spaced_schemes: tuple[str, ...]  # the schemes a template may put between key and value
    constructs: dict[str, str]  # how a value is bound, as messages say it
    # -- entropy (MSE204) ---------------------------------------------------------------------
    charsets: tuple[Charset, ...]
    run_finder: Optional[re.Pattern[str]]  # the runs of the widest character set
    min_run: int
    sequences: list[str]
    pairs: frozenset[tuple[str, str]]  # neighbours in an alphabet or on a keyboard row
    sequential_ratio: float
    ascending_ratio: float
    identifier: LazyPattern
    token: LazyPattern
    token_length: float
    data_prefixes: tuple[str, ...]
    data_regex: Optional[LazyPattern]
    value_data: Optional[LazyPattern]
    uuid: LazyPattern
    context_words: frozenset[str]
    long_context: Optional[LazyPattern]  # the long context words, inside a word too
    # -- MSE202's formats and the user's settings ---------------------------------------------
    format_sources: list[str]
    user_formats: tuple[tuple[str, str], ...]
    secrets: SecretSettings  # the allowlists
    # -- the prefilters' gates ----------------------------------------------------------------
    hint: re.Pattern[str]  # a secret word or a bigram in a name
    needles: tuple[str, ...]  # the secret words, longest first
    min_needles: tuple[str, ...]  # the needles that hold no other one
    password_callees: frozenset[str]
    bigram_tail: Optional[re.Pattern[str]]  # bigrams whose second word holds no needle, reversed
    long_run: Optional[re.Pattern[str]]  # where a run of min_run characters of the set starts
    needs_digit: Optional[Callable[[str], Optional[re.Match[str]]]]

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        family = catalog.data("secrets")
        data = _table(family.get("secret_values"))
        names = _table(data.get("names"))
        self._names(names)
        self._values(_table(data.get("values")), names)
        self._urls(_table(data.get("urls")))
        self._commands(_table(data.get("argv")), _table(data.get("templates")), data)
        self._entropy(_table(data.get("entropy")))
        raw_formats = family.get("formats", [])
        self.format_sources = [
            fmt["regex"]
            for fmt in (raw_formats if isinstance(raw_formats, list) else [])
            if isinstance(fmt, dict) and isinstance(fmt.get("regex"), str)
        ]
        self.user_formats = settings.secrets.extra_patterns
        self.secrets = settings.secrets
        self._gates()

    def _names(self, names: Mapping[str, Any]) -> None:
        self.strong = frozenset(w.lower() for w in _strings(names.get("strong")))
        self.weak = frozenset(w.lower() for w in _strings(names.get("weak")))
        self.human = frozenset(w.lower() for w in _strings(names.get("human")))
        self.pair_words = frozenset(w.lower() for w in _strings(names.get("pair_words")))
        self.compound = tuple(w.lower() for w in _strings(names.get("compound_suffixes")))
        self.bigrams = frozenset(
            (b.lower().split()[0], b.lower().split()[1])
            for b in _strings(names.get("bigrams"))
            if len(b.split()) == 2
        )
        self.metadata = {}
        for m in _strings(names.get("metadata_suffixes")):
            suffix = tuple(m.lower().split("_"))
            self.metadata.setdefault(len(suffix), set()).add(suffix)
        self.neutral = frozenset(
            (n.lower().split(":", 1)[0], n.lower().split(":", 1)[1])
            for n in _strings(names.get("neutralizers"))
            if ":" in n
        )
        keep = [re.escape(w) for w in _strings(names.get("camel_keep"))]
        self.word = _lazy("|".join([*keep, CAMEL]))
        # callables taking a password as a positional argument: login:1 is login(user, password)
        self.key_value_calls = frozenset(_strings(names.get("key_value_calls")))
        self.attribute_value_calls = frozenset(_strings(names.get("attribute_value_calls")))
        self.password_args = {}
        for item in _strings(names.get("password_arguments")):
            callee, _, index = item.partition(":")
            if index.isdigit():
                self.password_args[callee] = int(index)

    def _values(self, values: Mapping[str, Any], names: Mapping[str, Any]) -> None:
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

    def _urls(self, urls: Mapping[str, Any]) -> None:
        self.url = _lazy(str(urls.get("regex", r"(?!)")))
        self.url_placeholder = _union(_strings(urls.get("placeholder_regexes")), re.IGNORECASE)
        self.example_passwords = frozenset(
            p.lower() for p in _strings(urls.get("example_passwords"))
        )

    def _commands(
        self, argv: Mapping[str, Any], templates: Mapping[str, Any], data: Mapping[str, Any]
    ) -> None:
        self.argv_option = _lazy(str(argv.get("option_regex", r"(?!)")), re.DOTALL)
        self.argv_long = _lazy(str(argv.get("long_option_regex", r"(?!)")))
        self.flag_words = frozenset(w.lower() for w in _strings(argv.get("flag_words")))
        self.template_key_regex = _lazy(str(templates.get("key_regex", r"(?!)")))
        self.spaced_schemes = tuple(s for s in self.schemes if s.endswith(" "))
        self.constructs = {
            str(k): str(v) for k, v in _table(data.get("constructs")).items() if isinstance(v, str)
        }

    def _entropy(self, entropy: Mapping[str, Any]) -> None:
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
        self.token = _lazy(str(entropy.get("token", CAMEL)))
        self.token_length = float(entropy.get("identifier_token_length", 3.0))
        self.data_prefixes = tuple(_strings(entropy.get("data_prefixes")))
        self.data_regex = _union(_strings(entropy.get("data_regexes")), 0)
        self.value_data = _union(_strings(entropy.get("value_data_regexes")), 0)
        self.uuid = _lazy(str(entropy.get("uuid_regex", r"(?!)")))
        self.context_words = frozenset(w.lower() for w in _strings(entropy.get("context_words")))
        # long context words also count inside a word: expectedchecksum, sha256sum
        long_words = sorted((re.escape(w) for w in self.context_words if len(w) >= 5), key=len)
        self.long_context = (
            _lazy("|".join(reversed(long_words)), re.IGNORECASE) if long_words else None
        )

    def _gates(self) -> None:
        """What the prefilters look for (see SecretValuesCheck.may_judge and may_report)."""
        # names worth judging: a secret word or a bigram in them
        words = sorted(self.strong | self.weak | set(self.compound), key=len, reverse=True)
        alternatives = [re.escape(w) for w in words]
        alternatives += [rf"{re.escape(a)}[-_. ]?{re.escape(b)}" for a, b in sorted(self.bigrams)]
        self.hint = re.compile("|".join(alternatives), re.IGNORECASE)
        # the file gate (see may_report): plain substring tests on lower-cased names are fast
        self.needles = tuple(words)
        self.password_callees = frozenset(self.password_args)
        # a needle holding another one is found wherever that one is not: only the others
        self.min_needles = tuple(
            w for w in self.needles if not any(o != w and o in w for o in self.needles)
        )
        tails = sorted({b for _a, b in self.bigrams if not any(n in b for n in self.min_needles)})
        heads = sorted({a for a, b in self.bigrams if b in tails}, key=len, reverse=True)
        self.bigram_tail = (
            re.compile(
                "(?:{})[^0-9a-z\n]*(?:{})".format(
                    "|".join(re.escape(b[::-1]) for b in tails),
                    "|".join(re.escape(a[::-1]) for a in heads),
                )
            )
            if tails
            else None
        )
        wide = [c for c in self.charsets if c.name == "base64"] or list(self.charsets)
        # where a run of MSE204's characters, min_run of them at least, starts
        self.long_run = (
            re.compile(f"(?<![{wide[0].spec}])[{wide[0].spec}]{{{self.min_run},}}")
            if wide
            else None
        )
        # every character set requires a digit (of its ASCII characters): a value without one
        # has no run to judge (most prose)
        self.needs_digit = (
            re.compile("[0-9]").search
            if self.charsets and all("digit" in cs.require for cs in self.charsets)
            else None
        )


def _strings(raw: Any) -> list[str]:
    return [str(x) for x in raw] if isinstance(raw, list) else []


def _table(raw: Any) -> Mapping[str, Any]:
    return raw if isinstance(raw, dict) else {}


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
