"""MSE202 known-credential-format: the catalogue of formats (rules/secrets.toml) and the
check (mse_lint/checks/secret_formats.py).

The catalogue is validated entry by entry: well-formed, each regex finds every example in full and
none of its near misses nor the other formats' examples, keywords and prechecks hold for every
example, no regex backtracks badly. The check is tested on spans, masking, the forms a credential
takes in source code (escapes, f-strings, comments, multi-line private keys), placeholders, the
``[tool.mse-lint.secrets]`` settings through a project's pyproject.toml, and the fixtures'
coverage of every format.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Optional

import pytest
from helpers import mse_lint_command

from mse_lint.checks import words
from mse_lint.checks.secret_formats import (
    SecretFormatsCheck,
    is_placeholder,
    keyword_tests,
    word_needle,
)
from mse_lint.core.catalog import load_catalog
from mse_lint.core.diagnostics import Diagnostic, Span
from mse_lint.core.redact import redact
from mse_lint.core.settings import SecretSettings, Settings, load_settings
from mse_lint.pipeline.engine import Engine, FileJob
from mse_lint.pipeline.runner import lint

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9 / 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
DATA_FILE = RULES / "secrets.toml"
FIXTURES = ROOT / "tests" / "fixtures" / "secrets"
CATALOG = load_catalog()
FORMATS: list[dict[str, Any]] = list(CATALOG.data("secrets")["formats"])
IDS = [f.get("id", f"#{i}") for i, f in enumerate(FORMATS)]
BY_ID = {f["id"]: f for f in FORMATS}

REQUIRED_KEYS = {"id", "name", "regex", "keywords", "examples", "near_misses", "confidence"}
OPTIONAL_KEYS = {"secret_group", "precheck", "allow"}
CONFIDENCES = {"high", "medium"}
KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A global inline flag such as (?i) is deprecated mid-pattern on 3.9/3.10 and an error on 3.11+;
# only scoped flags, (?i:...), are allowed in the catalogue.
GLOBAL_INLINE_FLAG = re.compile(r"(?<!\\)\(\?[aiLmsux]+\)")
# A precheck starts with a literal character, plain or escaped, not followed by a quantifier:
# Python's re then finds candidates at the speed of str.find.
LITERAL_START = re.compile(r"^(?:[A-Za-z0-9_&:=-]|\\[.\-+*?^$|/])(?![*+?{])")

MIN_FORMATS = 25
HAYSTACK_SIZE = 200_000
# Generous: a busy CI machine must not fail it, a catastrophic regex (seconds, minutes) does
TIME_BUDGET_S = 0.5

# Formats whose regex may legitimately match another format's example, as
# (format whose regex matches, format whose example is matched). Keep it to genuinely overlapping
# families; every entry must still be needed.
ALLOWED_OVERLAPS: frozenset[tuple[str, str]] = frozenset()


def _compile(pattern: str) -> re.Pattern[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # DeprecationWarning/FutureWarning become errors
        return re.compile(pattern)


def _params() -> list[Any]:
    return [pytest.param(f, id=i) for f, i in zip(FORMATS, IDS)]


def _secret(fmt: dict[str, Any], example: str) -> str:
    m = re.search(fmt["regex"], example)
    assert m is not None
    return str(m.group(fmt.get("secret_group", 0)))


@pytest.fixture(scope="module")
def haystack() -> str:
    rng = random.Random(20240517)
    return "".join(rng.choices(string.printable, k=HAYSTACK_SIZE))


def _best_time(rx: re.Pattern[str], text: str) -> float:
    best = float("inf")
    for _ in range(3):  # best of three, to be robust to a busy machine
        start = time.perf_counter()
        for _m in rx.finditer(text):
            pass
        best = min(best, time.perf_counter() - start)
    return best


# -- the data file as a whole -------------------------------------------------------------------


def test_formats_live_in_the_secrets_data_file() -> None:
    with DATA_FILE.open("rb") as fh:
        doc = tomllib.load(fh)
    assert doc.get("family") == "secrets"
    assert len(doc["formats"]) == len(FORMATS), "another file of the family adds [[formats]]"


def test_no_staging_data_ships() -> None:
    """Everything under rules/ goes into the wheel."""
    assert not (RULES / "_staging").exists()
    assert not list(RULES.rglob("*/*.toml"))


def test_at_least_25_formats() -> None:
    assert len(FORMATS) >= MIN_FORMATS


def test_ids_unique_and_kebab_case() -> None:
    seen: set[str] = set()
    for fmt in FORMATS:
        fid = fmt.get("id")
        assert isinstance(fid, str) and KEBAB.match(fid), f"id not kebab-case: {fid!r}"
        assert fid not in seen, f"duplicate id {fid!r}"
        seen.add(fid)


def test_names_unique() -> None:
    names = [f["name"] for f in FORMATS]
    assert len(set(names)) == len(names)


def test_keyword_less_formats_have_a_precheck() -> None:
    """Without one, a format's regex would run over every file of every project."""
    assert [f["id"] for f in FORMATS if not f["keywords"] and not f.get("precheck")] == []


# -- entry by entry ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", _params())
def test_entry_shape(fmt: dict[str, Any]) -> None:
    keys = set(fmt)
    assert keys >= REQUIRED_KEYS, f"missing keys: {sorted(REQUIRED_KEYS - keys)}"
    assert keys <= REQUIRED_KEYS | OPTIONAL_KEYS, f"unknown keys: {sorted(keys - REQUIRED_KEYS)}"
    assert isinstance(fmt["name"], str) and fmt["name"].strip()
    assert isinstance(fmt["regex"], str) and fmt["regex"]
    assert fmt["confidence"] in CONFIDENCES
    for key in ("examples", "near_misses"):
        values = fmt[key]
        assert isinstance(values, list) and 1 <= len(values) <= 5, f"{key}: 1 to 5 strings"
        assert all(isinstance(v, str) and v for v in values), f"{key}: non-empty strings only"
        assert len(set(values)) == len(values), f"{key}: duplicates"
    assert not set(fmt["examples"]) & set(fmt["near_misses"])
    keywords = fmt["keywords"]
    assert isinstance(keywords, list) and all(isinstance(k, str) and k for k in keywords)
    assert len(set(keywords)) == len(keywords), "duplicate keywords"
    if "secret_group" in fmt:
        group = fmt["secret_group"]
        assert isinstance(group, int) and not isinstance(group, bool) and group >= 0
    if "allow" in fmt:
        assert isinstance(fmt["allow"], list) and all(isinstance(v, str) for v in fmt["allow"])


@pytest.mark.parametrize("fmt", _params())
def test_regex_compiles(fmt: dict[str, Any]) -> None:
    pattern = fmt["regex"]
    assert not GLOBAL_INLINE_FLAG.search(pattern), "use scoped flags (?i:...) only"
    compiled = _compile(pattern)
    group = fmt.get("secret_group", 0)
    assert group <= compiled.groups, f"secret_group {group} > {compiled.groups} groups"


@pytest.mark.parametrize("fmt", _params())
def test_examples_match_in_full(fmt: dict[str, Any]) -> None:
    rx = _compile(fmt["regex"])
    group = fmt.get("secret_group", 0)
    for example in fmt["examples"]:
        m = rx.search(example)
        assert m is not None, f"example not found: {example!r}"
        assert m.group(0) == example, f"partial match {m.group(0)!r} in {example!r}"
        secret = m.group(group)
        assert secret, f"secret group {group} empty for {example!r}"
        assert secret in example


@pytest.mark.parametrize("fmt", _params())
def test_near_misses_do_not_match(fmt: dict[str, Any]) -> None:
    rx = _compile(fmt["regex"])
    for near_miss in fmt["near_misses"]:
        m = rx.search(near_miss)
        assert m is None, f"near miss matched: {m.group(0)!r} in {near_miss!r}"


@pytest.mark.parametrize("fmt", _params())
def test_no_match_on_other_formats_examples(fmt: dict[str, Any]) -> None:
    rx = _compile(fmt["regex"])
    offenders = [
        (other["id"], example)
        for other in FORMATS
        if other["id"] != fmt["id"] and (fmt["id"], other["id"]) not in ALLOWED_OVERLAPS
        for example in other["examples"]
        if rx.search(example)
    ]
    assert not offenders, f"{fmt['id']} also matches examples of: {offenders}"


def test_allowed_overlaps_are_real_and_needed() -> None:
    for matcher, owner in ALLOWED_OVERLAPS:
        assert matcher in BY_ID and owner in BY_ID, f"unknown id in {(matcher, owner)}"
        rx = _compile(BY_ID[matcher]["regex"])
        assert any(rx.search(e) for e in BY_ID[owner]["examples"]), (
            f"stale allowed overlap {(matcher, owner)}"
        )


@pytest.mark.parametrize("fmt", _params())
def test_examples_contain_a_keyword(fmt: dict[str, Any]) -> None:
    """Keywords are the prefilter: a file with none of them is never scanned for the format."""
    if not fmt["keywords"]:
        return
    for example in fmt["examples"]:
        assert any(k in example for k in fmt["keywords"]), (example, fmt["keywords"])
        # the keyword is in the part the regex matched, not in a neighbour
        m = re.search(fmt["regex"], example)
        assert m is not None and any(k in m.group(0) for k in fmt["keywords"])


@pytest.mark.parametrize("fmt", [p for p in _params() if p.values[0].get("precheck")])
def test_precheck_holds_for_every_example(fmt: dict[str, Any]) -> None:
    precheck = fmt["precheck"]
    assert LITERAL_START.match(precheck), f"precheck must start with a literal: {precheck!r}"
    rx = _compile(precheck)
    for example in fmt["examples"]:
        m = rx.search(example)
        assert m is not None, f"precheck misses {example!r}"
        whole = re.search(fmt["regex"], example)
        assert whole is not None and whole.start() <= m.start() and m.end() <= whole.end()


@pytest.mark.parametrize("fmt", _params())
def test_examples_are_not_placeholders(fmt: dict[str, Any]) -> None:
    for example in fmt["examples"]:
        assert not is_placeholder(_secret(fmt, example)), example


@pytest.mark.parametrize("fmt", [p for p in _params() if p.values[0].get("allow")])
def test_allowed_values_have_the_format(fmt: dict[str, Any]) -> None:
    rx = _compile(fmt["regex"])
    for value in fmt["allow"]:
        assert rx.search(f"AccountKey={value};") or rx.fullmatch(value), value


@pytest.mark.parametrize("fmt", _params())
def test_no_catastrophic_backtracking(fmt: dict[str, Any], haystack: str) -> None:
    for pattern in filter(None, (fmt["regex"], fmt.get("precheck"))):
        best = _best_time(_compile(pattern), haystack)
        assert best < TIME_BUDGET_S, f"{best * 1000:.1f} ms on {HAYSTACK_SIZE} random characters"


@pytest.mark.parametrize("fmt", _params())
def test_no_catastrophic_backtracking_on_near_shapes(fmt: dict[str, Any]) -> None:
    """Same budget on text made of the format's own near misses and truncated examples.

    Random text rarely reaches the expensive part of a pattern (after its prefix); this text
    reaches it at every token.
    """
    pieces = list(fmt["near_misses"]) + [e[: max(1, len(e) * 2 // 3)] for e in fmt["examples"]]
    chunk = " ".join(pieces) + " "
    text = (chunk * (HAYSTACK_SIZE // len(chunk) + 1))[:HAYSTACK_SIZE]
    for pattern in filter(None, (fmt["regex"], fmt.get("precheck"))):
        best = _best_time(_compile(pattern), text)
        assert best < TIME_BUDGET_S, f"{best * 1000:.1f} ms on {HAYSTACK_SIZE} near-miss chars"


# -- the check --------------------------------------------------------------------------------

CHECK = SecretFormatsCheck(CATALOG, Settings())
ONLY = Settings(select=("MSE202",))


def check_source(
    tmp_path: Path, source: str, settings: Settings = ONLY, newline: str = "\n"
) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(kept, suppressed) findings of the engine on one file."""
    path = tmp_path / "app.py"
    path.write_bytes(source.replace("\n", newline).encode("utf-8"))
    result = Engine(CATALOG, settings).check_file(FileJob(str(path), "app.py"))
    assert result.checked, result.notices
    return result.diagnostics, result.suppressed


def span_text(source: str, span: Span) -> str:
    lines = source.split("\n")
    if span.line == span.end_line:
        return lines[span.line - 1][span.col - 1 : span.end_col - 1]
    parts = [lines[span.line - 1][span.col - 1 :]]
    parts += lines[span.line : span.end_line - 1]
    parts.append(lines[span.end_line - 1][: span.end_col - 1])
    return "\n".join(parts)


def _contexts(example: str) -> list[str]:
    """The example in a string, a bytes literal with escapes around it, an f-string, a comment.
    An example shaped as source (a key in concatenated string lines) goes in its own shape."""
    if '"\n' in example:
        return [f'X = (\n    "{example}\\n"\n)\n']
    quoted = repr(example)
    fquoted = quoted[1:-1].replace("{", "{{").replace("}", "}}")
    return [
        f"X = {quoted}\n",
        f"X = b{chr(0) + example + chr(10)!r}\n",
        f"X = f{quoted[0]}{{X}}{fquoted}{{X}}{quoted[0]}\n",
        "pass  # " + example.replace("\n", "\\n") + "\n",
    ]


@pytest.mark.parametrize("fmt", _params())
def test_every_example_is_wanted_and_found_in_every_context(fmt: dict[str, Any]) -> None:
    for example in fmt["examples"]:
        for source in _contexts(example):
            assert CHECK.wants(source), source
            found = CHECK.scan(source)
            assert [f.id for _, _, f, _ in found] == [fmt["id"]], source
            start, end, _, secret = found[0]
            assert source[start:end] == secret
            if fmt["id"] == "private-key-pem":
                assert secret.startswith("-----BEGIN ") and secret.endswith("PRIVATE KEY-----")
            else:
                assert secret == _secret(fmt, example), source


def test_wants_is_false_on_ordinary_code() -> None:
    code = (ROOT / "mse_lint" / "pipeline" / "engine.py").read_text(encoding="utf-8")
    assert not CHECK.wants(code)
    assert not CHECK.wants("import os\nACCESS = 'ACL'\nlocale = 'en-us'\nkey = 'key-1'\n")


def test_word_needles_hold_wherever_the_keyword_is() -> None:
    """wants() first looks for each keyword's needle in the file's words, one a line: the
    needle must be there whatever stands around the keyword in the text."""
    assert word_needle("ghp_") == "ghp_"
    assert word_needle("-----BEGIN") == "\nBEGIN"
    assert word_needle("glpat-") == "glpat\n"
    assert word_needle("&sig=") == "\nsig\n"
    assert word_needle("sk-ant-") == "\nant\n"
    assert word_needle("---") is None
    keywords = {k for f in FORMATS for k in f["keywords"]}
    tested = {k for f in FORMATS if not f.get("precheck") for k in f["keywords"]}
    around = ["", "x", "9", "_", "-", ".", " ", "'", "\n", "\u00e9", "\u212a", "\\x00"]
    for k in sorted(keywords):
        needle = word_needle(k)
        assert needle is not None, k
        for before in around:
            for after in around:
                text = f"a = '{before}{k}{after}'\n"
                blob = "\n" + "\n".join(words(text)) + "\n"
                assert needle in blob, (k, before, after)
                assert CHECK.wants(text) or k not in tested, text


def test_keyword_tests_find_exactly_the_keywords() -> None:
    keywords = [k for f in FORMATS for k in f["keywords"]]
    tests = keyword_tests(keywords)
    assert len(tests) < len(set(keywords))
    rng = random.Random(7)
    texts = [k for k in keywords] + [k[:-1] for k in keywords] + [k[1:] for k in keywords]
    texts += ["".join(rng.choices("AKIghpsx_-.BEGIN", k=12)) for _ in range(2000)]
    for text in texts:
        want = any(k in text for k in keywords)
        got = any((t in text) if isinstance(t, str) else t.search(text) for t in tests)
        assert got == want, text


def test_diagnostic_span_message_and_masking(tmp_path: Path) -> None:
    token = BY_ID["github-pat-classic"]["examples"][0]
    source = f'import os\n\nCLIENT = os.getenv("X") or "token {token}"\n'
    diags, _ = check_source(tmp_path, source)
    assert len(diags) == 1
    d = diags[0]
    assert d.rule == "MSE202" and d.secret
    assert d.span == Span(3, 35, 3, 35 + len(token))
    assert span_text(source, d.span) == token
    assert token not in d.message and redact(token) in d.message
    assert "GitHub personal access token (classic)" in d.message


def test_secret_group_span_in_code_context(tmp_path: Path) -> None:
    """The key name is code, outside the literal: the raw-text scan still sees it."""
    key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    source = f'import boto3\n\ns3 = boto3.client("s3", aws_secret_access_key="{key}")\n'
    diags, _ = check_source(tmp_path, source)
    assert [span_text(source, d.span) for d in diags] == [key]
    assert "AWS secret access key" in diags[0].message


def test_columns_are_characters_and_crlf_is_a_line_break(tmp_path: Path) -> None:
    token = BY_ID["npm-access-token"]["examples"][0]
    source = f'# é\tnoté\nX = "€€ {token}"\n'
    for newline in ("\n", "\r\n"):
        diags, _ = check_source(tmp_path, source, newline=newline)
        assert [d.span for d in diags] == [Span(2, 9, 2, 9 + len(token))], newline


def test_private_key_in_triple_quoted_string(tmp_path: Path) -> None:
    """Reported once at the BEGIN line; the span covers the block up to its END marker."""
    block = BY_ID["private-key-pem"]["examples"][0]
    source = f'KEY = """\n{block}\n"""\n'
    diags, _ = check_source(tmp_path, source)
    assert len(diags) == 1
    d = diags[0]
    assert d.secret and d.span.line == 2 and d.span.col == 1
    assert d.span.end_line == 2 + block.count("\n")
    assert span_text(source, d.span) == block
    assert "Private key block" in d.message and "PRIVATE KEY" not in d.message


def test_private_key_is_masked_on_every_line_by_the_console(tmp_path: Path) -> None:
    block = BY_ID["private-key-pem"]["examples"][1].replace("\\n", "\n")
    path = tmp_path / "app.py"
    path.write_text(f'KEY = """{block}"""\n', encoding="utf-8")
    proc = _cli(path, "--isolated", "--select", "MSE202")
    assert proc.returncode == 1, proc.stderr
    assert "MSE202" in proc.stdout
    for line in block.split("\n"):
        assert line[4:] not in proc.stdout


def test_suppression_on_the_first_line_of_the_statement(tmp_path: Path) -> None:
    block = BY_ID["private-key-pem"]["examples"][0]
    source = f'KEYS = dict(  # mse-lint: ignore[MSE202] -- test key\n    pem="""{block}""",\n)\n'
    diags, suppressed = check_source(tmp_path, source)
    assert diags == [] and len(suppressed) == 1
    token = BY_ID["github-pat-classic"]["examples"][0]
    source = f"# {token}  # mse-lint: ignore[MSE202] -- revoked\n"
    diags, suppressed = check_source(tmp_path, source)
    assert diags == [] and len(suppressed) == 1


def test_suppression_scope_follows_statements(tmp_path: Path) -> None:
    """A token in a compound statement's header belongs to it; a comment in its body does not."""
    token = BY_ID["github-pat-classic"]["examples"][0]
    ignore = "# mse-lint: ignore[MSE202] -- test"
    header = f'def connect(  {ignore}\n    token="{token}",\n):\n    pass\n'
    diags, suppressed = check_source(tmp_path, header)
    assert diags == [] and len(suppressed) == 1
    body = f"def f():  {ignore}\n    x = 1\n    # {token}\n    return x\n"
    diags, suppressed = check_source(tmp_path, body)
    assert [d.span.line for d in diags] == [3] and suppressed == []
    match = (
        f"match 1:\n    case 1:  {ignore}\n        pass\n    # {token}\n    case _:\n        pass\n"
    )
    diags, _ = check_source(tmp_path, match)
    assert [d.span.line for d in diags] == [4]


def test_escape_before_a_token(tmp_path: Path) -> None:
    token = BY_ID["aws-access-key-id"]["examples"][0]
    for prefix, found in (
        ("\\n", True),
        ("\\x00", True),
        ("\\0", True),
        ("\\u00e9", True),
        ("\\t", True),
        ("\\\\n", False),  # an escaped backslash, then the letter n glued to the token
        ("n", False),
    ):
        source = f'X = "{prefix}{token}"\n'
        diags, _ = check_source(tmp_path, source)
        assert bool(diags) is found, source
        if found:
            assert span_text(source, diags[0].span) == token


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", True),
        ("AKIA0000000000000000", True),
        ("AKIAXXXXXXXXXXXXXXXX", True),
        ("acme_********", True),
        ("sk_live_aaaaaaaaaaaaaaaaaaaaaaaaa", True),
        ("glpat-your-token-here-xx", True),
        ("acme_<token>", True),
        ("acme_${TOKEN}", True),
        ("acme_{{ token }}", True),
        ("", True),
        ("AKIAIOSFODNN7EXAMPLE", False),
        ("ghp_EXAMPLEjEQRcFZGoiDJvmxrL40UFs1lJgRqg", False),
        ("xoxb-815672492484-2184757605495-EXAMPLEo5c7lYiPoqB8ni9Ix", False),
    ],
)
def test_placeholders(value: str, placeholder: bool) -> None:
    assert is_placeholder(value) is placeholder


def test_overlapping_matches_are_reported_once() -> None:
    check = SecretFormatsCheck(
        CATALOG, Settings(secrets=SecretSettings(extra_patterns=(("ghp-any", r"ghp_\w+"),)))
    )
    token = BY_ID["github-pat-classic"]["examples"][0]
    found = check.scan(f'X = "{token}"\n')
    assert len(found) == 1


def test_npmrc_text_in_a_string_and_a_comment(tmp_path: Path) -> None:
    """.npmrc lines as they appear in code: a triple-quoted string, a comment, a template. An
    npm_ token after `_authToken=` is reported once, by its own name."""
    legacy = "59dc9768-ff79-491b-acbd-8eaf7e4d4f40"
    npm = BY_ID["npm-access-token"]["examples"][0]
    source = (
        'NPMRC = """registry=https://registry.npmjs.org/\n'
        f"//registry.npmjs.org/:_authToken={legacy}\n"
        f'//npm.pkg.example.com/:_authToken={npm}\n"""\n'
        f"# _authToken={legacy}\n"
        'TEMPLATE = f"//registry.npmjs.org/:_authToken={token}\\n"\n'
        'ENV = "//registry.npmjs.org/:_authToken=${NPM_TOKEN}"\n'
        "self._authToken = load_token_v2(config)\n"
    )
    diags, _ = check_source(tmp_path, source)
    got = [(d.span.line, span_text(source, d.span), d.message.split(" '")[0]) for d in diags]
    assert got == [
        (2, legacy, "npm registry credential (.npmrc)"),
        (3, npm, "npm access token"),
        (5, legacy, "npm registry credential (.npmrc)"),
    ]


GITLAB_FAMILY = [
    "gitlab-deploy-token",
    "gitlab-runner-token",
    "gitlab-runner-registration-token",
    "gitlab-ci-job-token",
    "gitlab-incoming-email-token",
    "gitlab-pipeline-trigger-token",
    "gitlab-agent-token",
    "gitlab-oauth-app-secret",
    "gitlab-feed-token",
    "gitlab-scim-token",
    "gitlab-feature-flags-token",
]


@pytest.mark.parametrize("fid", GITLAB_FAMILY)
def test_gitlab_tokens_where_code_holds_them(fid: str, tmp_path: Path) -> None:
    """GitLab's prefixed tokens in a request, a clone URL and a CI variable comment; the
    prefix alone, or a body one character short, is not reported."""
    fmt = BY_ID[fid]
    token = fmt["examples"][0]
    prefix = fmt["keywords"][0]
    source = (
        f'requests.post(URL, data={{"ref": "main", "value": "{token}"}})\n'
        f'CLONE = "https://gitlab-ci-token:{token}@gitlab.example.com/g/p.git"\n'
        f"# CI variable, rotated: {token}\n"
        f'PREFIX = "{prefix}"\n'
        f'SHORT = "{token[:-1]}"\n'
    )
    diags, _ = check_source(tmp_path, source)
    assert [(d.span.line, span_text(source, d.span)) for d in diags] == [
        (1, token),
        (2, token),
        (3, token),
    ]
    assert all(fmt["name"] in d.message and token not in d.message for d in diags)


# -- [tool.mse-lint.secrets] through a project's pyproject.toml -------------------------------

ACME = "acme_0123456789abcdef0123456789abcdef"
GHP = BY_ID["github-pat-classic"]["examples"][0]
AKIA = BY_ID["aws-access-key-id"]["examples"][0]
NPM = BY_ID["npm-access-token"]["examples"][0]
PYPROJECT = """\
[tool.mse-lint]
select = ["MSE202"]

[tool.mse-lint.secrets]
extra-patterns = [
    { id = "acme-token", regex = "acme_[0-9a-f]{32}" },
    { id = "corp-key", regex = "corp-key=(?P<secret>[A-Z0-9]{12})" },
]
allowlist = ["AKIAIOSFODNN7EXAMPLE"]
allowlist-regex = ["^ghp_EXAMPLE"]
"""
APP = f"""\
import os

ACME_URL = "https://acme.example/api"
CLIENT = os.getenv("ACME") or "{ACME}"  # a custom format
AWS_ID = "{AKIA}"  # allowlisted literal
GITHUB = "{GHP}"  # allowlisted by regex
NPM = "{NPM}"  # reported
HEADER = "corp-key=A1B2C3D4E5F6"  # custom format with a secret group
PLACEHOLDER = "acme_00000000000000000000000000000000"
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)  # stop config discovery here
    (root / "mse_src").mkdir()
    (root / "mse.toml").write_text(
        'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "/"\n'
        '[cloud]\ncode = "mse_src"\n'
    )
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "mse_src" / "app.py").write_text(APP)
    return root


EXPECTED = [(4, ACME), (7, NPM), (8, "A1B2C3D4E5F6")]


def test_settings_extra_patterns_and_allowlist_through_lint(tmp_path: Path) -> None:
    root = _project(tmp_path)
    settings = load_settings(root)
    assert settings.secrets.allowlist == ("AKIAIOSFODNN7EXAMPLE",)
    outcome = lint([root], CATALOG, settings, cwd=root)
    found = [d for d in outcome.diagnostics if d.rule == "MSE202"]
    got = [(d.span.line, span_text(APP, d.span)) for d in found]
    assert got == EXPECTED, got
    assert "acme-token (custom format)" in found[0].message
    assert "corp-key (custom format)" in found[2].message
    assert all(d.secret for d in found)


def _cli(*args: Any, cwd: Optional[Path] = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return subprocess.run(
        [*mse_lint_command(), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_settings_through_the_cli_and_nothing_leaks(tmp_path: Path) -> None:
    root = _project(tmp_path)
    proc = _cli(root, "--format", "json", cwd=root)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert [(f["line"], f["rule"]) for f in report] == [(4, "MSE202"), (7, "MSE202"), (8, "MSE202")]
    console = _cli(root, cwd=root)
    for secret in (ACME, NPM, "A1B2C3D4E5F6"):
        assert secret not in proc.stdout and secret not in console.stdout
    # without the config file, the allowlisted values are reported and the custom ones are not
    plain = _cli(root, "--isolated", "--select", "MSE202", "--format", "json", cwd=root)
    assert sorted(f["line"] for f in json.loads(plain.stdout)) == [5, 6, 7]


# -- the fixtures cover every format ----------------------------------------------------------


def _fixture_texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("formats_*.py"))}


def test_fixtures_report_every_format_in_every_kind_of_literal() -> None:
    texts = _fixture_texts()
    for kind in ("strings", "bytes", "fstrings", "comments"):
        found = {f.id for _, _, f, _ in CHECK.scan(texts[f"formats_{kind}.py"])}
        assert found == set(IDS), (kind, sorted(set(IDS) - found))


def test_fixtures_hold_a_near_miss_of_every_format() -> None:
    everything = "\n".join(_fixture_texts().values())
    missing = [
        f["id"]
        for f in FORMATS
        if not any(
            repr(n)[1:-1] in everything or n in everything or n.replace("\n", "\n# ") in everything
            for n in f["near_misses"]
        )
    ]
    assert missing == []


# -- cost on a big corpus ---------------------------------------------------------------------

DJANGO = [
    ROOT / "benchmarks" / ".corpus" / "django-5.1.15" / "django",
    Path("/tmp/ciclone/benchmarks/.corpus/django-5.1.15/django"),
]


@pytest.mark.slow
def test_prefilter_cost_on_django() -> None:
    folder = next((p for p in DJANGO if p.is_dir()), None)
    if folder is None:
        pytest.skip("no Django checkout under benchmarks/.corpus")
    texts = [p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.py"))]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        wanted = [t for t in texts if CHECK.wants(t)]
        best = min(best, time.perf_counter() - start)
    # about 0.1 s on one core; a lot of margin for busy machines
    assert best < 1.0, f"wants() took {best:.2f} s over {len(texts)} files"
    assert len(wanted) < len(texts) // 20, "the prefilter lets too many files through"
    assert all(CHECK.scan(t) == [] for t in wanted)
