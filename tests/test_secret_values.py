"""MSE201 hardcoded-secret, MSE203 credentials-in-url, MSE204 high-entropy-string.

The annotated fixtures (tests/fixtures/secrets/values_*.py) cover every name form and value
filter line by line; here: the decoys project through the installed CLI, the value filters one
by one, exact spans, redaction, the allowlist from `[tool.mse-lint.secrets]`, the catalogue's
thresholds and the de-duplication with MSE202's formats.
"""

from __future__ import annotations

import ast
import json
import math
import random
import string
import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest
from helpers import mse_lint_command

from mse_lint.checks import FileContext
from mse_lint.checks.secret_judges import shannon_entropy
from mse_lint.checks.secret_values import SecretValuesCheck
from mse_lint.core.catalog import Catalog, load_catalog
from mse_lint.core.diagnostics import Diagnostic
from mse_lint.core.record import replace
from mse_lint.core.redact import redact
from mse_lint.core.settings import SecretSettings, Settings, load_settings
from mse_lint.pipeline.engine import Engine, FileJob
from mse_lint.pipeline.runner import lint

ROOT = Path(__file__).resolve().parent.parent
DECOYS = ROOT / "tests" / "fixtures" / "projects" / "decoys"
CATALOG = load_catalog()
RULES = ("MSE201", "MSE203", "MSE204")


@pytest.fixture(scope="module")
def check() -> SecretValuesCheck:
    return SecretValuesCheck(CATALOG, Settings())


def run_cli(*args: str, cwd: Optional[Path] = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mse_lint_command(), *args], capture_output=True, text=True, timeout=120, cwd=cwd or ROOT
    )


def findings(source: str, tmp_path: Path, settings: Optional[Settings] = None) -> list[Diagnostic]:
    path = tmp_path / "app.py"
    path.write_text(source, encoding="utf-8")
    engine = Engine(CATALOG, settings or Settings())
    result = engine.check_file(FileJob(str(path), "app.py"))
    return [d for d in result.diagnostics if d.rule in RULES]


def covered(source: str, d: Diagnostic) -> str:
    """The source text under a one-line finding's span."""
    assert d.span.line == d.span.end_line
    line = source.splitlines()[d.span.line - 1]
    return line[d.span.col - 1 : d.span.end_col - 1]


# == the decoys project: zero findings ============================================================


def test_decoys_project_is_clean_through_the_cli() -> None:
    done = run_cli("check", "--isolated", "--select", "MSE2", "--format", "json", str(DECOYS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == []


def test_decoys_project_has_no_secrets_finding_with_every_rule_on() -> None:
    done = run_cli("check", "--isolated", "--format", "json", str(DECOYS))
    assert done.returncode in (0, 1), done.stderr
    found = [f for f in json.loads(done.stdout) if f["rule"].startswith("MSE2")]
    assert found == []


def test_decoys_project_ships_what_a_naive_scanner_would_flag() -> None:
    """The project really is full of decoys: a grep for secret words finds plenty."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in (DECOYS / "mse_src").glob("*.py"))
    for decoy in (
        'token_url = "/oauth/token"',
        'PASSWORD_FIELD = "password"',
        '"NextToken": "NextToken"',
        "tokenizer=tok",
        '"Bearer "',
        'password = os.environ["DB_PASSWORD"]',
        'aws_secret_access_key=SECRETS["aws"]',
        'auth = ("user", os.environ["PW"])',
        'token_type = "bearer"',
        "max_new_tokens=",
        "Enter your password",
        "CSRF_HEADER_NAME",
        "MODEL_SHA256",
        "REQUEST_ID",
    ):
        assert decoy in text, decoy
    assert len(list((DECOYS / "mse_src").glob("*.py"))) >= 6


# == names ========================================================================================


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("DB_PASSWORD", ["db", "password"]),
        ("dbPassword", ["db", "password"]),
        ("DbPassword", ["db", "password"]),
        ("db-password", ["db", "password"]),
        ("X-Api-Key", ["x", "api", "key"]),
        ("APIKey", ["api", "key"]),
        ("OAuthClient", ["oauth", "client"]),
        ("password2", ["password", "2"]),
        ("self.password", ["self", "password"]),
    ],
)
def test_names_are_split_into_words(check: SecretValuesCheck, name: str, words: list[str]) -> None:
    assert check.words(name) == words


@pytest.mark.parametrize(
    "name",
    [
        "password", "PASSWORD", "db_password", "dbPassword", "DbPassword", "db-password",
        "dbpassword", "passwd", "pwd", "passphrase", "secret", "SECRET_KEY", "client_secret",
        "clientSecret", "token", "access_token", "accessToken", "authToken", "api_key", "apiKey",
        "APIKEY", "apikey", "x-api-key", "X-Api-Key", "private_key", "PRIVATE_KEY", "access_key",
        "aws_secret_access_key", "credentials", "auth", "Authorization", "db_pass",
        "password1", "new_password2", "hf_token", "use_auth_token",
    ],
)  # fmt: skip
def test_secret_names(check: SecretValuesCheck, name: str) -> None:
    assert check.secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "tokenizer", "tokens", "max_new_tokens", "num_tokens", "passwords", "secrets",
        "PASSWORD_FIELD", "TOKEN_URL", "API_KEY_HEADER", "SECRET_FILE", "PASSWORD_PATH",
        "TOKEN_ENV", "SECRET_VAR", "API_KEY_PREFIX", "token_type", "TOKEN_LENGTH",
        "PASSWORD_PATTERN", "SECRET_NAME", "token_endpoint", "PASSWORD_HELP", "password_label",
        "password_message", "password_min_length", "api_key_id", "auth_backend",
        "AUTH_USER_MODEL", "auth_user", "authorization_code", "NextToken", "next_page_token",
        "pad_token", "eos_token", "csrftoken", "CSRF_TOKEN", "author", "authority", "keyword",
        "key", "KEY", "AWS::IAM::AccessKey", "api/token", "Enter your secret password",
        "password_hash", "",
    ],
)  # fmt: skip
def test_not_secret_names(check: SecretValuesCheck, name: str) -> None:
    assert not check.secret_name(name)


def test_name_kinds(check: SecretValuesCheck) -> None:
    assert check.name_kind("DB_PASSWORD") == "human"
    assert check.name_kind("client_secret") == "human"
    assert check.name_kind("api_key") == "machine"
    assert check.name_kind("access_token") == "machine"
    assert check.name_kind("auth") == "weak"
    assert check.name_kind("PASSWORD_FIELD") is None


# == values bound to a secret name (MSE201) =======================================================


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("password", ""),
        ("password", "   "),
        ("password", "changeme"),
        ("password", "CHANGE_ME"),
        ("password", "xxxxxxxx"),
        ("api_key", "sk-xxxxxxxxxxxx"),
        ("password", "********"),
        ("password", "<password>"),
        ("api_key", "your-api-key-here"),
        ("api_key", "<YOUR_API_KEY>"),
        ("password", "${DB_PASSWORD}"),
        ("password", "{{ db_password }}"),
        ("password", "%(password)s"),
        ("password", "{password}"),
        ("password", "{}"),
        ("password", "$DB_PASSWORD"),
        ("password", "DB_PASSWORD"),
        ("secret_key", "DJANGO_SECRET_KEY"),
        ("auth", "Bearer "),
        ("Authorization", "Basic "),
        ("Authorization", "Bearer <token>"),
        ("Authorization", "Token {}"),
        ("token", "/oauth/token"),
        ("token", "https://auth.example.com/oauth/token"),
        ("secret", "./secret.json"),
        ("password", "password"),
        ("PASSWORD", "Password"),
        ("NextToken", "NextToken"),
        ("X_AUTH_TOKEN", "X-Auth-Token"),
        ("db_password", "newpassword"),
        ("password", "admin"),
        ("password", "root1"[:4]),
        ("password", "1234"),
        ("password", "Enter your password"),
        ("password", "Mot de passe"),
        ("password", "Password:"),
        ("password", "Passwort"),
        ("token", "keyword"),
        ("auth", "required"),
        ("credentials", "include"),
        ("credentials", "same-origin"),
        ("auth", "django.contrib.auth.backends.ModelBackend"),
        ("token", "login_required"),
        ("token", "accessToken"),
        ("token", "v1.2.3"),
        ("password", "abcdefgh"),
        ("password", "12345678"),
        ("password", "qwertyuiop"),
        ("token", r"[^\W\d]\w*"),
        ("auth0", "types-auth0-python"),
        ("password", "2024-01-31"),
        ("password", "noreply@example.com"),
    ],
)
def test_values_that_are_not_secrets(check: SecretValuesCheck, name: str, value: str) -> None:
    assert check.secret_part(name, value) is None


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("password", "s3cr3t-Passw0rd!", "s3cr3t-Passw0rd!"),
        ("password", "letmein", "letmein"),
        ("password", "p4ss!", "p4ss!"),
        ("password", "password123", "password123"),
        ("api_key", "k7Qm2Rx9Lp4Tz8Vb", "k7Qm2Rx9Lp4Tz8Vb"),
        ("token", "tK9x-4fQ2", "tK9x-4fQ2"),
        ("Authorization", "Bearer 9fQ2-xL7v-R4tK-8mN3", "9fQ2-xL7v-R4tK-8mN3"),
        ("Authorization", "Basic YXBwOlMzY3IzdA==", "YXBwOlMzY3IzdA=="),
        ("Authorization", "MyScheme 9fQ2-xL7v-R4tK-8mN3", "9fQ2-xL7v-R4tK-8mN3"),
        ("auth", "u-42:Zr7p-4fQx", "u-42:Zr7p-4fQx"),
        ("credentials", "svc-user:Pa55-w0rd-9", "svc-user:Pa55-w0rd-9"),
        ("password", "sésame-42", "sésame-42"),
    ],
)
def test_values_that_are_secrets(
    check: SecretValuesCheck, name: str, value: str, secret: str
) -> None:
    where = check.secret_part(name, value)
    assert where is not None
    assert value[where[0] : where[1]] == secret


def test_a_value_is_judged_only_for_a_secret_name(check: SecretValuesCheck) -> None:
    assert check.secret_part("PASSWORD_FIELD", "s3cr3t-Passw0rd!") is None
    assert check.secret_part("tokenizer", "s3cr3t-Passw0rd!") is None


# == URLs (MSE203) ================================================================================


@pytest.mark.parametrize(
    ("url", "user", "password"),
    [
        ("postgresql://app:hunter22x@db:5432/app", "app", "hunter22x"),
        ("redis://:p4ss@cache:6379/0", "", "p4ss"),
        ("amqp://app:s3cret@mq//", "app", "s3cret"),
        ("mongodb+srv://svc:Zr7p4fQx@cluster0.example.net/db", "svc", "Zr7p4fQx"),
        ("https://deploy:tK9x-4fQ2@api.example.com/", "deploy", "tK9x-4fQ2"),
        ("connect to mysql://root:R00t-pw@10.0.0.5/shop now", "root", "R00t-pw"),
        ("postgresql://app:pa:ss@db/app", "app", "pa:ss"),
    ],
)
def test_url_credentials(check: SecretValuesCheck, url: str, user: str, password: str) -> None:
    (cred,) = check.url_credentials(url)
    assert cred.user == user
    assert url[cred.start : cred.end] == password


@pytest.mark.parametrize(
    "url",
    [
        "ssh://git@github.com/acme/app.git",
        "git@github.com:acme/app.git",
        "postgresql://app@db/app",
        "https://example.com:8443/path?x=1",
        "postgresql://app:${DB_PASSWORD}@db/app",
        "postgresql://app:{password}@db/app",
        "postgresql://{user}:{password}@{host}/app",
        "mysql://%(user)s:%(pw)s@%(host)s/app",
        "postgresql://user:<password>@localhost/db",
        "postgresql://app:***@db/app",
        "postgresql://app:$PGPASSWORD@db/app",
        "postgresql://app:DB_PASSWORD@db/app",
        "amqp://guest:guest@localhost//",
        "postgresql://user:password@localhost/db",
        "oracle://scott:tiger@localhost/orcl",
        r"^https?://[^:]+:[^@]+@",
        "https://foo.com:123,foo:bar@bar.com/path",
        "mailto:someone@example.com",
    ],
)
def test_urls_without_credentials(check: SecretValuesCheck, url: str) -> None:
    assert check.url_credentials(url) == []


# == entropy (MSE204) =============================================================================


def test_shannon_entropy() -> None:
    assert shannon_entropy("") == 0
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy("ab") == 1
    assert shannon_entropy("0123456789abcdef") == 4
    assert math.isclose(shannon_entropy("aab"), 0.9183, abs_tol=1e-4)


def test_thresholds_come_from_the_catalogue(check: SecretValuesCheck) -> None:
    data = CATALOG.data("secrets")["secret_values"]["entropy"]
    by_name = {c.name: c for c in check.data.charsets}
    assert by_name["base64"].threshold == data["base64"]["threshold"] == 4.5
    assert by_name["hex"].threshold == data["hex"]["threshold"] == 3.0
    assert by_name["base64"].min_length == data["base64"]["min_length"]
    assert by_name["hex"].min_length == data["hex"]["min_length"]
    # short base64 runs: scale * log2(n), never above the long-string threshold
    assert by_name["base64"].limit(20) == pytest.approx(data["base64"]["scale"] * math.log2(20))
    assert by_name["base64"].limit(200) == 4.5


def test_random_keys_are_found(check: SecretValuesCheck) -> None:
    """Recall on random strings: most at 20-32 characters, nearly all from 40."""
    rng = random.Random(20261126)
    alphabet = string.ascii_letters + string.digits + "+/"
    for n, floor in ((20, 0.85), (32, 0.88), (40, 0.95), (64, 0.99)):
        hits = sum(
            check.high_entropy("".join(rng.choice(alphabet) for _ in range(n))) is not None
            for _ in range(400)
        )
        assert hits / 400 >= floor, (n, hits)
    hex_hits = sum(
        check.high_entropy("".join(rng.choice("0123456789abcdef") for _ in range(40))) is not None
        for _ in range(400)
    )
    assert hex_hits / 400 >= 0.95


@pytest.mark.parametrize(
    "value",
    [
        "123e4567-e89b-12d3-a456-426614174000",
        "{123e4567-e89b-12d3-a456-426614174000}",
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
        "PyUnicode_AsUTF8String",
        "InvalidS3KmsKeyArnException",
        "getBase64EncodedStringV2Handler",
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "/usr/local/lib/python3.10/site-packages/flask/app.py",
        "com/python/cpython/blob/89aa4694fc8c6d190325ef8ed6ce6a6b8efb3e50/Lib/ast",
        "Pneumonoultramicroscopicsilicovolcanoconiosis",
        "internationalization2023",
        "VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZw==",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ",
        "pbkdf2_sha256$600000$Xi0d9TH4QgTN$ET79IqJzQtJZPGSEZ4zBms1racjP4M9DZH7Fx6mq=",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        "9dc46c03c21bb00fa9ea",
        "31415926535897932384626433832795028841971",
        "Signature: 8a477f597d28d172789f06886806bc55",
        "=?utf-8?b?44KB44Gn44GZ44CC5a6f6Zqb44Gr44Gv44CMV2VubiBpc3Q?=",
        # an unsigned JWT (alg "none"): anyone can make one
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0NSJ9.",
        "",
    ],
)
def test_look_alikes_have_no_entropy_finding(check: SecretValuesCheck, value: str) -> None:
    assert check.high_entropy(value) is None


@pytest.mark.parametrize(
    "context",
    [
        ("EXPECTED_SHA256",),
        ("file_checksum",),
        ("expectedchecksum",),
        ("etag",),
        ("ETag",),
        ("BUILD_COMMIT",),
        ("REQUEST_ID",),
        ("hashlib.sha256",),
        ("assertEqual",),
        ("ascent.dat",),
        ("check", "md5"),
        ("TEST_VECTOR",),
        ("PUBLIC_KEY",),
        ("nonce",),
    ],
)
def test_context_marks_checksums_ids_and_test_vectors(
    check: SecretValuesCheck, context: tuple[str, ...]
) -> None:
    digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert check.high_entropy(digest) is not None
    assert check.high_entropy(digest, context) is None


def test_entropy_reports_the_run_inside_a_value(check: SecretValuesCheck) -> None:
    value = "key=CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P;"
    found = check.high_entropy(value)
    assert found is not None
    assert value[found.start : found.end] == "CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P"
    assert found.charset == "base64" and found.entropy > 4.5


# == the pass: forms, spans, messages, redaction ==================================================


def test_spans_cover_exactly_the_secret(tmp_path: Path) -> None:
    source = (
        'DB_PASSWORD = "s3cr3t-Passw0rd!"\n'
        'H = {"Authorization": "Bearer 9fQ2-xL7v-R4tK-8mN3"}\n'
        'cafe = "é"; password = "sésame-42"\n'
        "ESCAPED = {'password': 'it\\'s-S3cret!'}\n"
        'URL = "postgresql://app:hunter22x@db:5432/app"\n'
        'RAW = b"redis://:p4ss-w0rd@cache:6379/0"\n'
        'DSN = f"mysql://root:R00t-pw-9@{host}/shop"\n'
        'SPLIT = ("postgresql://app:" "hunter22y@db/app")\n'
        'K = "CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P"\n'
    )
    found = findings(source, tmp_path)
    assert [covered(source, d) for d in found] == [
        "s3cr3t-Passw0rd!",
        "9fQ2-xL7v-R4tK-8mN3",
        "sésame-42",
        "it\\'s-S3cret!",
        "hunter22x",
        "p4ss-w0rd",
        "R00t-pw-9",
        "hunter22y",
        "CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P",
    ]
    assert [d.rule for d in found] == [
        "MSE201",
        "MSE201",
        "MSE201",
        "MSE201",
        "MSE203",
        "MSE203",
        "MSE203",
        "MSE203",
        "MSE204",
    ]
    assert all(d.secret for d in found)


def test_messages_name_the_construct_and_redact_the_value(tmp_path: Path) -> None:
    source = (
        'class C:\n    def __init__(self):\n        self.password = "s3cr3t-Passw0rd!"\n'
        'URL = "postgresql://app:hunter22x@db:5432/app"\n'
        'signer = Signer("CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P")\n'
    )
    found = findings(source, tmp_path)
    messages = {d.rule: d.message for d in found}
    assert messages["MSE201"].startswith("literal secret 's3cr****' (16 chars) for `self.password`")
    assert "'hu****' (9 chars) for user `app`" in messages["MSE203"]
    assert "'CpaN****' (40 chars)" in messages["MSE204"] and "`Signer()`" in messages["MSE204"]
    for d in found:
        for secret in ("s3cr3t-Passw0rd!", "hunter22x", "CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P"):
            assert secret not in d.message


def test_no_output_format_shows_a_fixture_secret(tmp_path: Path) -> None:
    fixture = ROOT / "tests" / "fixtures" / "secrets" / "values_names.py"
    for fmt in ("console", "json"):
        done = run_cli("check", "--isolated", "--select", "MSE2", "--format", fmt, str(fixture))
        assert done.returncode == 1, done.stderr
        for secret in ("s3cr3t-Passw0rd!", "k7Qm2Rx9Lp4Tz8Vb", "at-9fQ2xL7vR4tK8mN3"):
            assert secret not in done.stdout, (fmt, secret)


def test_one_literal_one_rule(tmp_path: Path) -> None:
    """A literal that MSE201 or MSE203 reports is not reported again by MSE204."""
    source = (
        'signing_key = "CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P"\n'
        'URL = "postgresql://app:TKtb2TxxDBfz5LJF3hBGZW3M4Fz6@db/app"\n'
    )
    assert [d.rule for d in findings(source, tmp_path)] == ["MSE201", "MSE203"]


def _with_formats(formats: Any) -> Catalog:
    families = {k: dict(v) for k, v in CATALOG.families.items()}
    if formats is None:
        families["secrets"].pop("formats", None)
    else:
        families["secrets"]["formats"] = formats
    return Catalog(CATALOG.rules, families)


def test_values_matching_a_credential_format_are_left_to_mse202() -> None:
    value = "acme_CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P"
    plain = SecretValuesCheck(_with_formats(None), Settings())
    assert plain.high_entropy(value) is not None  # no formats data: still works
    broken = SecretValuesCheck(_with_formats([{"regex": "("}, {"id": "no-regex"}]), Settings())
    assert broken.high_entropy(value) is not None
    formats = SecretValuesCheck(
        _with_formats([{"id": "acme", "regex": r"\bacme_\w{40}\b"}]), Settings()
    )
    assert formats.high_entropy(value) is None
    extra = Settings(secrets=SecretSettings(extra_patterns=(("acme", r"acme_\w{40}"),)))
    assert SecretValuesCheck(_with_formats(None), extra).high_entropy(value) is None


def test_the_shipped_formats_are_honoured(check: SecretValuesCheck) -> None:
    formats = CATALOG.data("secrets").get("formats", [])
    if not formats:
        pytest.skip("no credential formats in the catalogue")
    assert len(check.formats) >= len(formats) - 1


def test_suppression_comments_work(tmp_path: Path) -> None:
    source = (
        'DB_PASSWORD = "s3cr3t-Passw0rd!"  # mse-lint: ignore[MSE201] -- rotated test value\n'
        "CONFIG = {  # mse-lint: ignore[MSE201]\n"
        '    "password": "s3cr3t-Passw0rd!",\n'
        "}\n"
        'URL = "postgresql://app:hunter22x@db/app"  # noqa: MSE203\n'
    )
    path = tmp_path / "app.py"
    path.write_text(source, encoding="utf-8")
    result = Engine(CATALOG, Settings()).check_file(FileJob(str(path), "app.py"))
    assert result.diagnostics == []
    assert sorted(d.rule for d in result.suppressed) == ["MSE201", "MSE201", "MSE203"]


def test_wants_is_a_cheap_prefilter(check: SecretValuesCheck) -> None:
    """Every finding is on a string literal: a file without a quote has none. Which literals
    can be reported is decided on their values (may_report), not on the source text."""
    assert check.wants("x = 'postgresql://db/app'\n")
    assert check.wants('x = "CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P"\n')
    assert check.wants("smtp.login(user, 'x')\n")
    assert not check.wants("x = 1\npassword = get()\n")
    assert not check.wants("def add(a, b):\n    return a + b\n")
    assert not check.wants("import os\nprint(os.getcwd())\n")


# Literals whose value differs from their source text: the file gate (may_report) judges the
# values, so each is still found (the former text prefilter skipped the files marked *).
TRICKY = [
    # an escape in the value
    ('password = "s3cr\\x33t-Passw0rd!"\n', ("MSE201", 1, 13, 1, 32)),
    # * an escape in the name
    ('CONFIG = {"pass\\x77ord": "s3cr3t-Passw0rd!"}\n', ("MSE201", 1, 27, 1, 43)),
    # * a name split over implicitly concatenated literals
    ('CONFIG = {"pass" "word": "s3cr3t-Passw0rd!"}\n', ("MSE201", 1, 27, 1, 43)),
    ('CONFIG = {"api-" "key": "k7Qm2Rx9Lp4Tz8Vb"}\n', ("MSE201", 1, 26, 1, 42)),
    (
        'parser.add_argument("--pass" "word", default="s3cr3t-Passw0rd!")\n',
        ("MSE201", 1, 47, 1, 63),
    ),
    # a value split over lines
    ('DB_PASSWORD = ("s3cr3t-"\n    "Passw0rd!")\n', ("MSE201", 1, 16, 2, 16)),
    # * an identifier the parser NFKC-normalises (full-width letters: `password`)
    (
        '\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44 = "s3cr3t-Passw0rd!"\n',
        ("MSE201", 1, 13, 1, 29),
    ),
    # a callee taking a password, a space before its parenthesis; a bytes key
    ('smtp.login ("admin", "s3cr3t-Passw0rd!")\n', ("MSE201", 1, 23, 1, 39)),
    ('os.getenv(b"DB_PASSWORD", b"s3cr3t-Passw0rd!")\n', ("MSE201", 1, 29, 1, 45)),
    # * "://" written with an escape, split by a comment, split over f-string parts
    ('URL = "postgresql:\\x2f/app:hunter22x@db/app"\n', ("MSE203", 1, 28, 1, 37)),
    ('URL = ("postgresql:/"  # scheme\n    "/app:hunter22x@db/app")\n', ("MSE203", 2, 11, 2, 20)),
    ('DSN = f"mysql:/" f"/root:R00t-pw-9@{host}/shop"\n', ("MSE203", 1, 26, 1, 35)),
    # a random run split over literals, in a dict value, with an escape inside
    ('K = ("CpaNfhs0gCa05RFRu"\n     "nzqw7wZyVGOeUvfJIssDj4P")\n', ("MSE204", 1, 6, 2, 31)),
    ('SEEDS = {"main": "CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P"}\n', ("MSE204", 1, 19, 1, 59)),
    ('K = "CpaNfhs0gCa05RFRunzqw7\\x77ZyVGOeUvfJIssDj4P"\n', ("MSE204", 1, 6, 1, 49)),
]


@pytest.mark.parametrize("source, expected", TRICKY)
def test_literals_unlike_their_source_are_still_found(
    source: str, expected: tuple[Any, ...], tmp_path: Path
) -> None:
    found = findings(source, tmp_path)
    spans = [(d.rule, d.span.line, d.span.col, d.span.end_line, d.span.end_col) for d in found]
    assert spans == [expected]


def test_the_file_gate(check: SecretValuesCheck, tmp_path: Path) -> None:
    """may_report: None (no pass) for literals no rule can report, False when only MSE201 can
    (a secret name, and a value it could hold), True when MSE203 or MSE204 can."""

    def gate(source: str) -> Optional[bool]:
        tree = ast.parse(source)
        return check.may_report(FileContext("app.py", source, tree, CATALOG))

    assert gate('x = "hello world"\nname = "Alice"\n') is None
    assert gate('password = get()\nlabel = "Enter your password"\n') is None
    assert gate('token = get()\nmode = "utf-8x"\n') is False  # pairs are the pass's job
    assert gate('x = "see https://example.com/a@b"\n') is True
    assert gate('x = f"{a}https://u:p@h"\n') is True
    assert gate('x = "CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P"\n') is True
    assert gate('x = "no digits in this long_identifier_like_value"\n') is None
    assert findings('token = get()\nmode = "utf-8x"\n', tmp_path) == []


# == command lines and templates (MSE201), URLs in comments (MSE203) ==============================

CONSTRUCTS = [
    # (source, the text under the span, the name shown, what the message says of the construct)
    (
        'CMD = ["mysql", "--password=s3cr3tPa55", "-u", "root"]\n',
        "s3cr3tPa55",
        "--password",
        "the value of a command-line option in an argument list",
    ),
    (
        'CMD = ("java", "-Ddb.password=Adm1n-Pass!")\n',
        "Adm1n-Pass!",
        "-Ddb.password",
        "the value of a command-line option in an argument list",
    ),
    (
        'CMD = ["deploy", "--token", "tK9x4fQ2Lm8Zr7p"]\n',
        "tK9x4fQ2Lm8Zr7p",
        "--token",
        "the argument after the option in an argument list",
    ),
    (
        'DSN = "host=db user=app password=%s" % "s3cr3tPa55"\n',
        "s3cr3tPa55",
        "password",
        "formatted into a string with %",
    ),
    (
        'H = "Authorization: Bearer {}".format("at-9fQ2xL7vR4tK8mN3")\n',
        "at-9fQ2xL7vR4tK8mN3",
        "Authorization",
        "formatted into a string with str.format",
    ),
    (
        'C = "mysql --password {} shop".format("hunter22x")\n',
        "hunter22x",
        "--password",
        "formatted into a string with str.format",
    ),
    (
        "F = f\"token={'tK9x4fQ2Lm8Zr7p'}\"\n",
        "tK9x4fQ2Lm8Zr7p",
        "token",
        "formatted into an f-string",
    ),
]


@pytest.mark.parametrize("source, secret, shown, construct", CONSTRUCTS)
def test_command_lines_and_templates(
    source: str, secret: str, shown: str, construct: str, tmp_path: Path
) -> None:
    found = findings(source, tmp_path)
    assert [d.rule for d in found] == ["MSE201"]
    d = found[0]
    assert covered(source, d) == secret and d.secret
    assert d.message == (
        f"literal secret {redact(secret)} for `{shown}` ({construct}) in the code; code shipped "
        "to MSE is meant to be shareable for audit"
    )
    assert secret not in d.message


def test_the_file_gate_sees_command_lines_and_templates(check: SecretValuesCheck) -> None:
    """The names an option or a template gives count for the gate, wherever they stand:
    inside the option's value, past the 80 characters of a name. In a non-ASCII file the names
    are the tree's identifiers (an ASCII file's are all its words, those of strings too)."""

    def gate(source: str) -> Optional[bool]:
        source += "# é\n"
        return check.may_report(FileContext("app.py", source, ast.parse(source), CATALOG))

    assert gate('CMD = ["mysql", "--db-password=s3cr3tPa55"]\n') is False
    long = "host=db.internal.example port=5432 dbname=application_production user=app password=%s"
    assert len(long) > 80
    assert gate(f'DSN = "{long}" % "s3cr3tPa55"\n') is False
    assert gate('C = "port: {}".format("5432")\n') is None


def test_long_templates_are_read(tmp_path: Path) -> None:
    long = "host=db.internal.example port=5432 dbname=application_production user=app password=%s"
    source = f'DSN = "{long}" % "s3cr3tPa55"  # é\n'
    assert [covered(source, d) for d in findings(source, tmp_path)] == ["s3cr3tPa55"]


def test_urls_with_a_password_in_comments(tmp_path: Path) -> None:
    source = (
        "# proxy: https://deploy:hunter2word@proxy.example.com:3128\n"
        'X = "é"  # was postgresql://app:p@ss-w0rd@db/app\n'
        "# docs: https://user:password@host https://user:@host redis://:${REDIS_PW}@cache\n"
        'H = "#https://svc:Zr7p4fQx@api.example.com"\n'
        "# https://svc:Zr7p4fQy@api.example.com  # mse-lint: ignore[MSE203] -- revoked\n"
    )
    path = tmp_path / "app.py"
    path.write_text(source, encoding="utf-8")
    result = Engine(CATALOG, Settings()).check_file(FileJob(str(path), "app.py"))
    found = [d for d in result.diagnostics if d.rule in RULES]
    assert [(d.rule, d.span.line, covered(source, d)) for d in found] == [
        ("MSE203", 1, "hunter2word"),
        ("MSE203", 2, "p@ss-w0rd"),
        ("MSE203", 4, "Zr7p4fQx"),
    ]
    assert found[1].span.col == 33  # characters, not bytes: "é" is two bytes
    assert all(d.secret for d in found)
    assert "for user `deploy`" in found[0].message and "hunter2word" not in found[0].message
    assert [d.rule for d in result.suppressed] == ["MSE203"]


def test_a_file_without_quotes_is_wanted_for_its_comments(check: SecretValuesCheck) -> None:
    assert check.wants("# https://deploy:hunter2word@proxy.example.com:3128\nx = 1\n")


# == the allowlist: [tool.mse-lint.secrets] =======================================================


def test_allowlist_from_pyproject(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "mse_src").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "mse.toml").write_text(
        'name = "t"\npython_application = "app:app"\n[cloud]\ncode = "mse_src"\n'
    )
    (root / "mse_src" / "app.py").write_text(
        'DB_PASSWORD = "s3cr3t-Passw0rd!"\n'
        'TEST_TOKEN = "tk-local-1234-dev"\n'
        'URL = "postgresql://app:hunter22x@db/app"\n'
        'SEED = "CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P"\n'
        'OTHER = "TKtb2TxxDBfz5LJF3hBGZW3M4Fz6Hq2AK7EGHZbK"\n'
        'api_key = "k7Qm2Rx9Lp4Tz8Vb"\n'
    )
    before = lint([root], CATALOG, Settings(), cwd=tmp_path)
    assert sorted(d.rule for d in before.diagnostics if d.rule in RULES) == [
        "MSE201",
        "MSE201",
        "MSE201",
        "MSE203",
        "MSE204",
        "MSE204",
    ]
    (root / "pyproject.toml").write_text(
        "[tool.mse-lint.secrets]\n"
        'allowlist = ["s3cr3t-Passw0rd!", "hunter22x",'
        ' "CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P"]\n'
        'allowlist-regex = ["^tk-local-", "^TKtb2"]\n'
    )
    settings = load_settings(root)
    assert settings.secrets.allowlist and settings.secrets.allowlist_regex
    after = lint([root], CATALOG, settings, cwd=tmp_path)
    left = [(d.rule, d.span.line) for d in after.diagnostics if d.rule in RULES]
    assert left == [("MSE201", 6)]


def test_allowlist_through_the_cli(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "mse.toml").write_text(
        'name = "t"\npython_application = "app:app"\n[cloud]\ncode = "src"\n'
    )
    (root / "src" / "app.py").write_text('DB_PASSWORD = "s3cr3t-Passw0rd!"\n')
    done = run_cli("check", "--select", "MSE201", "--format", "json", str(root), cwd=root)
    assert done.returncode == 1 and json.loads(done.stdout)[0]["rule"] == "MSE201"
    (root / "pyproject.toml").write_text(
        '[tool.mse-lint.secrets]\nallowlist-regex = ["^s3cr3t-"]\n'
    )
    done = run_cli("check", "--select", "MSE201", "--format", "json", str(root), cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == []


def test_settings_allowlist_on_the_check() -> None:
    settings = replace(
        Settings(), secrets=SecretSettings(allowlist=("letmein",), allowlist_regex=("^dev-",))
    )
    check = SecretValuesCheck(CATALOG, settings)
    assert check.secret_part("password", "letmein") is None
    assert check.secret_part("password", "dev-Passw0rd!") is None
    assert check.secret_part("password", "prod-Passw0rd!") is not None
    assert check.url_credentials("postgresql://app:dev-pw-1@db/app") == []
    assert check.high_entropy("dev-CpaNfhs0gCa05RFRunzqw7wZyVGOeUvfJIssDj4P") is None
