"""MSE205-MSE210 on whole projects (tmp_path): requirements.txt, shipped secrets files, symlinks,
the secrets JSON's keys and sealed secrets on MSE cloud. MSE208 has annotated fixtures in
tests/fixtures/secrets/usage_*.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest
from helpers import mse_lint_command

from mse_lint.core.catalog import Catalog
from mse_lint.core.diagnostics import Diagnostic, Span
from mse_lint.core.record import replace
from mse_lint.core.redact import redact
from mse_lint.core.settings import SecretSettings, Settings
from mse_lint.pipeline.runner import lint

HOME_TOML = 'name = "t"\npython_application = "app:app"\nhealthcheck_endpoint = "/"\n'
CLOUD = '[cloud]\ncode = "mse_src"\ntests = "tests"\n'
CLOUD_FILLED = (
    'docker = "ghcr.io/cosmian/mse-flask:20230810125234"\nproject = "default"\n'
    'hardware = "4g-eu-001"\n'
)
APP = "from flask import Flask\n\napp = Flask(__name__)\n"


def make(
    tmp_path: Path,
    files: dict[str, str],
    toml: Optional[str] = None,
    links: Optional[dict[str, str]] = None,
) -> Path:
    """A project under tmp_path/proj: mse.toml (code dir mse_src), files, then symlinks."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)  # stop config discovery here
    (root / "mse_src").mkdir()
    (root / "mse.toml").write_text(toml if toml is not None else HOME_TOML + CLOUD)
    for rel, text in {"mse_src/app.py": APP, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    for link, target in (links or {}).items():
        (root / link).parent.mkdir(parents=True, exist_ok=True)
        (root / link).symlink_to(target)
    return root


def findings(
    catalog: Catalog, root: Path, rule: str, settings: Optional[Settings] = None
) -> list[Diagnostic]:
    outcome = lint([root], catalog, settings or Settings(), cwd=root)
    return [d for d in outcome.diagnostics if d.rule == rule]


# ================================================================================================
# MSE205: credentials in shipped requirements.txt files
# ================================================================================================
# (line, the secret in it); every option form and requirement form pip accepts
POSITIVE = [
    ("--index-url https://deploy:S3cretPass1@pypi.example/simple", "S3cretPass1"),
    ("--index-url=https://deploy:S3cretPass1@pypi.example/simple", "S3cretPass1"),
    ("-i https://deploy:S3cretPass1@pypi.example/simple", "S3cretPass1"),
    ("-ihttps://deploy:S3cretPass1@pypi.example/simple", "S3cretPass1"),
    (
        "--extra-index-url https://__token__:pypi-EXAMPLE0a1b2c3d4e5f@pypi.example/simple",
        "pypi-EXAMPLE0a1b2c3d4e5f",
    ),
    ("--extra-index-url=https://deploy:S3cretPass1@pypi.example/simple", "S3cretPass1"),
    ("-f https://deploy:S3cretPass1@files.example/wheels/", "S3cretPass1"),
    ("--find-links https://deploy:S3cretPass1@files.example/wheels/", "S3cretPass1"),
    ("--find-links=https://deploy:S3cretPass1@files.example/wheels/", "S3cretPass1"),
    (
        "git+https://EXAMPLEtoken0a1b2c3d4e5f6a7b8@github.com/org/repo.git#egg=repo",
        "EXAMPLEtoken0a1b2c3d4e5f6a7b8",
    ),
    ("-e git+https://deploy:S3cretPass1@gitlab.example/org/repo.git#egg=repo", "S3cretPass1"),
    (
        "--editable=git+https://oauth2:EXAMPLEglpat0a1b2c3d@gitlab.example/org/repo.git#egg=repo",
        "EXAMPLEglpat0a1b2c3d",
    ),
    (
        "repo @ git+https://EXAMPLEtoken0a1b2c3d4e5f6a7b8@github.com/org/repo.git@v1.0",
        "EXAMPLEtoken0a1b2c3d4e5f6a7b8",
    ),
    (
        "pkg @ https://deploy:S3cretPass1@files.example/pkg-1.0.tar.gz ; python_version >= '3.8'",
        "S3cretPass1",
    ),
    ("https://deploy:S3cretPass1@files.example/pkg-1.0-py3-none-any.whl", "S3cretPass1"),
    (
        "git+https://EXAMPLEtoken0a1b2c3d4e5f6a7b8:x-oauth-basic@github.com/org/repo.git#egg=repo",
        "EXAMPLEtoken0a1b2c3d4e5f6a7b8",
    ),
    (
        "git+https://x-access-token:EXAMPLEghs0a1b2c3d@github.com/org/repo.git#egg=repo",
        "EXAMPLEghs0a1b2c3d",
    ),
    ("flask==2.2.5 --index-url https://deploy:S3cretPass1@pypi.example/simple", "S3cretPass1"),
    ("  --index-url   https://deploy:p@ss:w0rd@pypi.example/simple   # private index", "p@ss:w0rd"),
]

NEGATIVE = [
    "--index-url https://pypi.example/simple",
    "--extra-index-url https://pypi.example/simple",
    "git+https://github.com/org/repo",
    "git+https://github.com/org/repo.git@v1.0#egg=repo",
    "git+ssh://git@github.com/org/repo.git#egg=repo",
    "repo @ git+https://github.com/org/repo.git@v1.0",
    "--index-url https://${PIP_USER}:${PIP_TOKEN}@pypi.example/simple",
    "git+https://${GITHUB_TOKEN}@github.com/org/repo.git#egg=repo",
    "--extra-index-url https://deploy:${PIP_PASSWORD}@pypi.example/simple",
    "--index-url https://deploy@pypi.example/simple",
    "--index-url https://<user>:<password>@pypi.example/simple",
    "# --index-url https://deploy:S3cretPass1@pypi.example/simple",
    "flask==2.2.5  # mirror: https://deploy:S3cretPass1@pypi.example/simple",
    "flask==2.2.5 --hash=sha256:2f2b3e0b6a6e4a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
    "--trusted-host pypi.example",
    "-r base.txt",
    "./vendor/mylib",
    "https://files.example/pkg-1.0.tar.gz",
    "pkg @ file:///opt/wheels/pkg-1.0-py3-none-any.whl",
]


@pytest.mark.parametrize(("line", "secret"), POSITIVE)
def test_requirements_credential(catalog: Catalog, tmp_path: Path, line: str, secret: str) -> None:
    text = f"flask==2.2.5\n{line}\n"
    root = make(tmp_path, {"mse_src/requirements.txt": text})
    found = findings(catalog, root, "MSE205")
    assert len(found) == 1, [d.message for d in found]
    d = found[0]
    start = line.index(secret) + 1
    assert d.span == Span(2, start, 2, start + len(secret))
    assert d.secret
    assert d.path == "mse_src/requirements.txt"
    assert redact(secret) in d.message
    assert secret not in d.message
    assert "never encrypted" in d.message


@pytest.mark.parametrize("line", NEGATIVE)
def test_requirements_no_credential(catalog: Catalog, tmp_path: Path, line: str) -> None:
    root = make(tmp_path, {"mse_src/requirements.txt": f"flask==2.2.5\n{line}\n"})
    assert findings(catalog, root, "MSE205") == []


def test_requirements_message_names_the_option_and_requirement(
    catalog: Catalog, tmp_path: Path
) -> None:
    text = (
        "--extra-index-url https://deploy:S3cretPass1@pypi.example/simple\n"
        "git+https://EXAMPLEtoken0a1b2c3d4e5f6a7b8@github.com/org/private-lib.git#egg=private-lib\n"
        "tool @ https://deploy:S3cretPass2@files.example/tool-1.0.tar.gz\n"
    )
    root = make(tmp_path, {"mse_src/requirements.txt": text})
    messages = [d.message for d in findings(catalog, root, "MSE205")]
    assert len(messages) == 3
    assert messages[0].startswith("`--extra-index-url` in mse_src/requirements.txt")
    assert messages[1].startswith("requirement `private-lib` in mse_src/requirements.txt")
    assert messages[2].startswith("requirement `tool` in mse_src/requirements.txt")


def test_requirements_line_continuation(catalog: Catalog, tmp_path: Path) -> None:
    text = (
        "flask==2.2.5\n"
        "--extra-index-url \\\n"
        "    https://deploy:ContPass99@pypi.example/simple\n"
        "requests==2.31.0 \\\n"
        "    --hash=sha256:abc\n"
    )
    root = make(tmp_path, {"mse_src/requirements.txt": text})
    found = findings(catalog, root, "MSE205")
    assert [d.span for d in found] == [Span(3, 20, 3, 30)]
    assert "`--extra-index-url`" in found[0].message


def test_requirements_continuation_into_a_comment(catalog: Catalog, tmp_path: Path) -> None:
    # pip ends a continuation at a comment line, and the comment stays a comment
    text = "flask==2.2.5\\\n# https://deploy:S3cretPass1@pypi.example/simple\n"
    root = make(tmp_path, {"mse_src/requirements.txt": text})
    assert findings(catalog, root, "MSE205") == []


def test_requirements_crlf(catalog: Catalog, tmp_path: Path) -> None:
    text = (
        "flask==2.2.5\r\n"
        "-i https://deploy:CrlfPass77@pypi.example/simple\r\n"
        "--extra-index-url \\\r\n"
        "  https://deploy:CrlfPass88@pypi.example/simple\r\n"
    )
    root = make(tmp_path, {"mse_src/requirements.txt": text})
    found = findings(catalog, root, "MSE205")
    assert [d.span for d in found] == [Span(2, 19, 2, 29), Span(4, 18, 4, 28)]


def test_requirements_utf8_bom(catalog: Catalog, tmp_path: Path) -> None:
    text = "\ufeff--index-url https://deploy:BomPass123@pypi.example/simple\n"
    root = make(tmp_path, {"mse_src/requirements.txt": text})
    # the BOM counts as a character, as the reporters count it
    assert [d.span for d in findings(catalog, root, "MSE205")] == [Span(1, 29, 1, 39)]


def test_requirements_nested_excluded_and_hidden(catalog: Catalog, tmp_path: Path) -> None:
    line = "--index-url https://deploy:S3cretPass1@pypi.example/simple\n"
    root = make(
        tmp_path,
        {
            "mse_src/requirements.txt": "flask==2.2.5\n",
            "mse_src/plugins/ocr/requirements.txt": line,  # nested: ships in clear too
            "mse_src/vendor/requirements.txt": line,  # excluded folder
            "mse_src/.old/requirements.txt": line,  # hidden: never ships
            "mse_src/requirements-dev.txt": line,  # another name: encrypted, not this rule
            "mse_src/.mseignore": "vendor\n",
            "requirements.txt": line,  # outside the code dir
        },
    )
    found = findings(catalog, root, "MSE205")
    assert [d.path for d in found] == ["mse_src/plugins/ocr/requirements.txt"]


def test_requirements_excluded_by_name(catalog: Catalog, tmp_path: Path) -> None:
    line = "--index-url https://deploy:S3cretPass1@pypi.example/simple\n"
    root = make(
        tmp_path,
        {
            "mse_src/requirements.txt": line,
            "mse_src/sub/requirements.txt": line,
            "mse_src/.mseignore": "requirements.txt\n",
        },
    )
    assert findings(catalog, root, "MSE205") == []


def test_requirements_through_a_symlinked_folder(catalog: Catalog, tmp_path: Path) -> None:
    line = "--index-url https://deploy:S3cretPass1@pypi.example/simple\n"
    root = make(tmp_path, {"lib/requirements.txt": line}, links={"mse_src/lib": "../lib"})
    found = findings(catalog, root, "MSE205")
    assert [d.path for d in found] == ["mse_src/lib/requirements.txt"]


def test_requirements_allowlist_and_extra_patterns(catalog: Catalog, tmp_path: Path) -> None:
    text = (
        "--index-url https://deploy:S3cretPass1@pypi.example/simple\n"
        "git+https://acme_0a1b2c3d@git.example/org/repo.git#egg=repo\n"
    )
    root = make(tmp_path, {"mse_src/requirements.txt": text})
    # acme_0a1b2c3d is too short to look like a token, unless a catalogued format says it is one
    assert [d.span.line for d in findings(catalog, root, "MSE205")] == [1]
    extra = Settings(secrets=SecretSettings(extra_patterns=(("acme", r"acme_[0-9a-f]{8}"),)))
    assert [d.span.line for d in findings(catalog, root, "MSE205", extra)] == [1, 2]
    allowed = Settings(secrets=SecretSettings(allowlist=("S3cretPass1",)))
    assert findings(catalog, root, "MSE205", allowed) == []
    allowed_re = Settings(secrets=SecretSettings(allowlist_regex=("^S3cret",)))
    assert findings(catalog, root, "MSE205", allowed_re) == []


def test_requirements_suppression(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "# mse-lint: ignore[MSE205] -- internal mirror, IP-restricted, revoked at release\n"
        "--index-url https://deploy:S3cretPass1@pypi.example/simple\n"
    )
    root = make(tmp_path, {"mse_src/requirements.txt": text})
    monkeypatch.chdir(root)  # the engine reads suppressions from the displayed path
    outcome = lint([root], catalog, Settings(), cwd=root)
    assert [d.rule for d in outcome.diagnostics if d.rule == "MSE205"] == []
    assert [d.rule for d in outcome.suppressed] == ["MSE205"]


def test_requirements_secret_never_printed(catalog: Catalog, tmp_path: Path) -> None:
    secret = "EXAMPLEtoken0a1b2c3d4e5f6a7b8"
    text = f"git+https://{secret}@github.com/org/repo.git#egg=repo\n"
    root = make(tmp_path, {"mse_src/requirements.txt": text})
    for fmt in ("console", "json"):
        out = _cli("check", "--format", fmt, ".", cwd=root)
        assert "MSE205" in out.stdout, out.stdout + out.stderr
        assert secret not in out.stdout + out.stderr
        assert secret[:12] not in out.stdout + out.stderr


def test_shipped_secrets_file_content_never_quoted(catalog: Catalog, tmp_path: Path) -> None:
    """A finding about a whole file (it ships) quotes none of its lines in any format."""
    secret = "sk_live_EXAMPLE0a1b2c3d4e5f6a7b8c9d"
    pem = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7EXAMPLE"
    root = make(
        tmp_path,
        {
            "mse_src/secrets.json": f'{{"stripe": "{secret}"}}\n',
            "mse_src/tls.key": f"{pem}\n",
        },
    )
    for fmt in ("console", "json", "sarif", "github", "gitlab", "junit"):
        out = _cli("check", "--format", fmt, "--select", "MSE206", ".", cwd=root)
        assert "MSE206" in out.stdout, (fmt, out.stdout + out.stderr)
        for value in (secret, pem):
            assert value[8:20] not in out.stdout + out.stderr, fmt


# ================================================================================================
# MSE206: secrets-bearing files that ship
# ================================================================================================
@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("secrets.json", '{"login": "x"}', "MSE's secrets file"),
        ("secrets_to_seal.json", '{"result_sk": "x"}', "mse home seal"),
        ("config/server.pem", "-----BEGIN PRIVATE KEY-----\nx\n", "private key"),
        ("certs/fullchain.pem", "", "PEM file"),
        ("tls.key", "x", "private key file"),
        ("KEY.PEM", "x", "PEM file"),
        ("deploy/id_rsa", "x", "SSH private key"),
        ("deploy/id_ed25519", "x", "SSH private key"),
        ("bundle.p12", "x", "PKCS#12"),
        ("bundle.pfx", "x", "PKCS#12"),
        ("credentials.json", "{}", "credentials file"),
        ("credentials-prod.json", "{}", "credentials file"),
        ("service-account-prod.json", "{}", "service-account key"),
        ("sub/deep/secrets.json", "{}", "MSE's secrets file"),
    ],
)
def test_secret_file_shipped(
    catalog: Catalog, tmp_path: Path, name: str, content: str, why: str
) -> None:
    root = make(tmp_path, {f"mse_src/{name}": content})
    found = findings(catalog, root, "MSE206")
    assert [(d.path, d.span) for d in found] == [(f"mse_src/{name}", Span(1, 1, 1, 2))]
    assert found[0].message.startswith(f"mse_src/{name} ships to the enclave (encrypted); it ")
    assert why in found[0].message
    assert "mseignore" not in found[0].message  # no .mseignore line meant to exclude it


# A service-account key as Google writes it (the key body is made up for this test).
KEY_BODY = "MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDEXAMPLEonlyNOTAKEY"
SERVICE_ACCOUNT = json.dumps(
    {
        "type": "service_account",
        "project_id": "demo",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIVATE KEY-----\n",
        "client_email": "app@demo.iam.gserviceaccount.com",
    }
)
BY_NAME = "is named like a cloud service-account key file: a credentials file, by its name"
HOLDS = "is a cloud service-account key file: it holds a private key"


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        (
            "service-account.json",
            SERVICE_ACCOUNT,
            f"{HOLDS} (a PEM block in its `private_key` field)",
        ),
        (
            "service_account_prod.json",
            SERVICE_ACCOUNT,
            f"{HOLDS} (a PEM block in its `private_key` field)",
        ),
        ("service-account.json", "{}", BY_NAME),
        ("service-account.json", '{"type": "service_account", "private_key": "changeme"}', BY_NAME),
        (
            "service-account.json",
            "not json\n-----BEGIN EC PRIVATE KEY-----\nx\n",
            f"{HOLDS} (a PEM private key block)",
        ),
        ("service-account.json", '{"private_key": ' * 100000 + "1", BY_NAME),  # too deep for json
        (
            "credentials.json",
            SERVICE_ACCOUNT,
            "is a credentials file that holds a private key (a PEM block in its `private_key` "
            "field)",
        ),
        (
            "credentials.json",
            '{"client_secret": "x"}',
            "looks like a cloud or OAuth credentials file (client secret, refresh token)",
        ),
    ],
)
def test_credentials_file_says_private_key_only_when_it_holds_one(
    catalog: Catalog, tmp_path: Path, name: str, content: str, why: str
) -> None:
    root = make(tmp_path, {f"mse_src/{name}": content})
    [d] = findings(catalog, root, "MSE206")
    assert d.severity.name == "ERROR"
    assert d.message == f"mse_src/{name} ships to the enclave (encrypted); it {why}"
    assert KEY_BODY[:8] not in d.message and "MIIE" not in d.message


def test_large_or_special_credentials_files_are_judged_by_name(
    catalog: Catalog, tmp_path: Path
) -> None:
    root = make(tmp_path, {})
    big = root / "mse_src" / "service-account.json"
    big.write_text(SERVICE_ACCOUNT + " " * (1 << 20))  # over the 1 MiB read limit
    [d] = findings(catalog, root, "MSE206")
    assert d.message.endswith(f"; it {BY_NAME}")
    big.unlink()
    os.mkfifo(root / "mse_src" / "service-account-fifo.json")
    # a FIFO is neither read nor waited on (the run would hang otherwise)
    done = subprocess.run(
        [*mse_lint_command(), "--no-cache", "--format", "json", "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "holds a private key" not in done.stdout, done.stdout


def test_service_account_key_in_every_output_format(tmp_path: Path) -> None:
    root = make(tmp_path, {"mse_src/service-account.json": SERVICE_ACCOUNT})
    for fmt in ("console", "json", "sarif", "github", "gitlab", "junit"):
        done = subprocess.run(
            [*mse_lint_command(), "--no-cache", "--format", fmt, "."],
            cwd=root,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 1, (fmt, done.stderr)
        assert "holds a private key" in done.stdout, fmt
        assert "MIIE" not in done.stdout + done.stderr, fmt


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("id_rsa.pub", "ssh-rsa AAAA"),
        ("certifi/cacert.pem", "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"),
        ("my_secrets.json", "{}"),
        ("secrets.py", "X = 1\n"),
        ("keys.txt", "x"),
        ("monkey.json", "{}"),
    ],
)
def test_not_a_secret_file(catalog: Catalog, tmp_path: Path, name: str, content: str) -> None:
    root = make(tmp_path, {f"mse_src/{name}": content})
    assert findings(catalog, root, "MSE206") == []


def test_mse_toml_inside_the_code_dir(catalog: Catalog, tmp_path: Path) -> None:
    toml = HOME_TOML + '[cloud]\ncode = "."\nsecrets = "secrets.json"\n'
    root = make(tmp_path, {"app.py": APP, "secrets.json": '{"login": "x"}'}, toml=toml)
    found = findings(catalog, root, "MSE206")
    assert [d.path for d in found] == ["mse.toml", "secrets.json"]
    assert "deployment configuration" in found[0].message
    assert "named by `[cloud] secrets`" in found[1].message


def test_configured_secrets_file_inside_the_code_dir(catalog: Catalog, tmp_path: Path) -> None:
    toml = HOME_TOML + CLOUD + 'secrets = "mse_src/conf/app-config.json"\n'
    root = make(tmp_path, {"mse_src/conf/app-config.json": "{}"}, toml=toml)
    found = findings(catalog, root, "MSE206")
    assert [d.path for d in found] == ["mse_src/conf/app-config.json"]
    assert "named by `[cloud] secrets`" in found[0].message


def test_configured_ssl_key_inside_the_code_dir(catalog: Catalog, tmp_path: Path) -> None:
    toml = (
        HOME_TOML
        + CLOUD
        + '[cloud.ssl]\ndomain_name = "app.example"\nprivate_key = "mse_src/tls/app-key.txt"\n'
        + 'certificate = "cert.pem"\n'
    )
    root = make(tmp_path, {"mse_src/tls/app-key.txt": "x", "cert.pem": ""}, toml=toml)
    found = findings(catalog, root, "MSE206")
    assert [d.path for d in found] == ["mse_src/tls/app-key.txt"]
    assert "`[cloud.ssl] private_key`" in found[0].message


def test_configured_secrets_file_outside_the_code_dir(catalog: Catalog, tmp_path: Path) -> None:
    toml = HOME_TOML + CLOUD + 'secrets = "secrets.json"\n'
    root = make(tmp_path, {"secrets.json": "{}", "secrets_to_seal.json": "{}"}, toml=toml)
    assert findings(catalog, root, "MSE206") == []


@pytest.mark.parametrize(
    "mseignore", ["secrets.json\n", "*.json\n", "secrets*\n", "# keep out\nsecrets.json\n"]
)
def test_secret_file_excluded(catalog: Catalog, tmp_path: Path, mseignore: str) -> None:
    root = make(tmp_path, {"mse_src/secrets.json": "{}", "mse_src/.mseignore": mseignore})
    assert findings(catalog, root, "MSE206") == []


def test_secret_file_in_excluded_or_hidden_folder(catalog: Catalog, tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "mse_src/keys/server.key": "x",
            "mse_src/.ssh/id_rsa": "x",
            "mse_src/.secrets.json": "{}",
            "mse_src/.mseignore": "keys\n",
        },
    )
    assert findings(catalog, root, "MSE206") == []


@pytest.mark.parametrize(
    ("mseignore", "rel", "line", "instead"),
    [
        ("/secrets.json\n", "secrets.json", "'/secrets.json' (line 1)", "secrets.json"),
        ("secrets.json/\n", "secrets.json", "'secrets.json/' (line 1)", "secrets.json"),
        ("# secrets\n\nsecrets/\n", "secrets/prod.key", "'secrets/' (line 3)", "secrets"),
        ("config/*.pem\n", "config/server.pem", "'config/*.pem' (line 1)", "*.pem"),
        ("**/id_rsa\n", "deploy/id_rsa", "'**/id_rsa' (line 1)", "id_rsa"),
        ("secrets.json \n", "secrets.json", "'secrets.json ' (line 1)", "secrets.json"),
    ],
)
def test_secret_file_not_excluded_by_a_path_pattern(
    catalog: Catalog, tmp_path: Path, mseignore: str, rel: str, line: str, instead: str
) -> None:
    root = make(tmp_path, {f"mse_src/{rel}": "x", "mse_src/.mseignore": mseignore})
    found = findings(catalog, root, "MSE206")
    assert [d.path for d in found] == [f"mse_src/{rel}"]
    msg = found[0].message
    assert f"the .mseignore line {line} does not exclude it" in msg
    assert f"write `{instead}` instead" in msg


def test_secret_file_reached_through_a_link(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, {"keys/server.key": "x"}, links={"mse_src/keys": "../keys"})
    assert [d.path for d in findings(catalog, root, "MSE206")] == ["mse_src/keys/server.key"]


def test_scaffold_layout_is_clean(catalog: Catalog, tmp_path: Path) -> None:
    scaffold = Path(__file__).parent / "fixtures" / "projects" / "scaffold_cloud"
    root = tmp_path / "proj"
    shutil.copytree(scaffold, root)
    (root / ".git").mkdir(exist_ok=True)
    outcome = lint([root], catalog, Settings(), cwd=root)
    rules = {"MSE205", "MSE206", "MSE207", "MSE208", "MSE209", "MSE210"}
    assert [d.rule for d in outcome.diagnostics if d.rule in rules] == []


# ================================================================================================
# MSE207: symlinks that leave the code dir
# ================================================================================================
def test_symlinks_in_and_out(catalog: Catalog, tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "shared/a.py": "A = 1\n",
            "shared/sub/b.py": "B = 1\n",
            "outside.txt": "x",
            "mse_src/lib/c.py": "C = 1\n",
            "mse_src/data.csv": "x",
            "mse_src/.mseignore": "excluded_link\n",
        },
        links={
            "mse_src/shared": "../shared",  # folder, out
            "mse_src/notes.txt": "../outside.txt",  # file, out
            "mse_src/abs_link.txt": str(tmp_path / "proj" / "outside.txt"),  # absolute, out
            "mse_src/helpers": "lib",  # folder, in
            "mse_src/data_link.csv": "data.csv",  # file, in
            "mse_src/roundtrip": "../mse_src/lib",  # leaves and comes back: in
            "mse_src/.hidden_link": "../shared",  # hidden: never ships
            "mse_src/excluded_link": "../shared",  # excluded by .mseignore
            "mse_src/lib/.cache": "../../shared",  # hidden, below a real folder
        },
    )
    found = findings(catalog, root, "MSE207")
    assert [(d.path, d.span) for d in found] == [
        ("mse_src/abs_link.txt", Span(1, 1, 1, 2)),
        ("mse_src/notes.txt", Span(1, 1, 1, 2)),
        ("mse_src/shared", Span(1, 1, 1, 2)),
    ]
    assert found[2].message.startswith(
        "mse_src/shared is a symlink to shared, outside the code dir"
    )
    assert found[1].message.startswith("mse_src/notes.txt is a symlink to outside.txt")


def test_link_inside_a_linked_folder(catalog: Catalog, tmp_path: Path) -> None:
    # mse_src/helpers -> lib (inside) and lib/ext -> ../../ext (outside): one finding, at the
    # link itself (mse_src/lib/ext), not at mse_src/helpers/ext nor per file
    root = make(
        tmp_path,
        {"ext/a.py": "A = 1\n", "ext/b.py": "B = 1\n", "mse_src/lib/c.py": "C = 1\n"},
        links={"mse_src/helpers": "lib", "mse_src/lib/ext": "../../ext"},
    )
    assert [d.path for d in findings(catalog, root, "MSE207")] == ["mse_src/lib/ext"]


def test_link_to_an_empty_or_broken_target(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, {}, links={"mse_src/gone": "../nowhere"})
    assert findings(catalog, root, "MSE207") == []


# ================================================================================================
# MSE209: keys of the secrets JSON
# ================================================================================================
SEED_APP = '''import json
import os
from pathlib import Path

from flask import Flask

app = Flask(__name__)


@app.route('/whoami')
def whoami():
    """A simple example manipulating secrets."""
    secrets = json.loads(Path(os.getenv("SECRETS_PATH")).read_text())
    return secrets["login"]


@app.route("/health")
def health():
    return "OK"
'''


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [*mse_lint_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def _seed_project(tmp_path: Path, keys: dict[str, str]) -> Path:
    toml = (
        'name = "seed"\npython_application = "app:app"\nhealthcheck_endpoint = "/health"\n'
        'tests_cmd = "pytest"\ntests_requirements = ["pytest"]\n'
        + CLOUD
        + CLOUD_FILLED
        + 'secrets = "secrets.json"\n'
    )
    return make(
        tmp_path,
        {"mse_src/app.py": SEED_APP, "secrets.json": json.dumps(keys), "tests/test_app.py": ""},
        toml=toml,
    )


def test_seed_example_clean_with_login(tmp_path: Path) -> None:
    root = _seed_project(tmp_path, {"login": "EXAMPLE-user-value"})
    out = _cli("check", "--format", "json", ".", cwd=root)
    report = json.loads(out.stdout)
    assert isinstance(report, list), out.stdout + out.stderr
    assert [f["rule"] for f in report if f["rule"].startswith("MSE2")] == [], out.stdout
    assert "EXAMPLE-user-value" not in out.stdout


def test_seed_example_mse209_without_login(tmp_path: Path) -> None:
    root = _seed_project(tmp_path, {"user": "EXAMPLE-user-value", "password": "EXAMPLE-pw-9"})
    out = _cli("check", ".", cwd=root)
    assert "MSE209" in out.stdout, out.stdout + out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "warning MSE209" in ln]
    assert len(lines) == 1
    assert "14:12" in lines[0]
    assert "secrets['login']" in lines[0]
    assert "secrets.json has no such key (it has: 'password', 'user')" in lines[0]
    assert "EXAMPLE-user-value" not in out.stdout and "EXAMPLE-pw-9" not in out.stdout
    assert out.returncode == 1


KEYS_APP = """import json
import os
from os import environ, getenv as env
from pathlib import Path

SECRETS = json.loads(Path(os.getenv("SECRETS_PATH")).read_text())
ALSO = json.load(open(os.environ["SECRETS_PATH"]))
SECRETS_PATH = Path(environ.get("SECRETS_PATH"))
VIA = json.loads(SECRETS_PATH.read_text())
SEALED = json.loads(Path(os.getenv("SEALED_SECRETS_PATH")).read_text())


def module_level():
    return SECRETS["login"], SECRETS["nope1"], SECRETS.get("nope2"), SECRETS.get("login", "")


def other_forms():
    return ALSO["nope3"], VIA["nope4"], VIA["login"]


def with_block():
    with open(env("SECRETS_PATH")) as fh:
        data = json.load(fh)
    return data["nope5"]


def with_path_open():
    with Path(os.getenv("SECRETS_PATH")).open() as fh:
        text = fh.read()
    return json.loads(text)["nope6"]


def local_shadow():
    SECRETS = {"nope7": 1}
    return SECRETS["nope7"]


def parameter(SECRETS):
    return SECRETS["nope8"]


def sealed():
    return SEALED["result_sk"]


def other_json():
    return json.loads(Path("config.json").read_text())["nope9"]


def nested():
    return SECRETS["login"]["inner"], SECRETS["db"]["x"]


def not_reads():
    SECRETS["nope10"] = 1
    return "nope11" in SECRETS
"""


def test_secret_keys_followed(catalog: Catalog, tmp_path: Path) -> None:
    toml = HOME_TOML + CLOUD + 'secrets = "secrets.json"\n'
    root = make(
        tmp_path,
        {"mse_src/app.py": KEYS_APP, "secrets.json": '{"login": "EXAMPLE", "salt": "x"}'},
        toml=toml,
    )
    found = findings(catalog, root, "MSE209")
    keys = [d.message.split("secrets[", 1)[1].split("]", 1)[0] for d in found]
    assert keys == ["'nope1'", "'nope2'", "'nope3'", "'nope4'", "'nope5'", "'nope6'", "'db'"]
    assert all("(it has: 'login', 'salt')" in d.message for d in found)
    assert all("EXAMPLE" not in d.message for d in found)


def test_secret_keys_global_and_closure(catalog: Catalog, tmp_path: Path) -> None:
    app = (
        "import json, os\n"
        "SECRETS = {}\n\n"
        "def load():\n"
        "    global SECRETS\n"
        '    SECRETS = json.loads(open(os.getenv("SECRETS_PATH")).read())\n\n'
        "def use():\n"
        '    return SECRETS["missing"]\n\n'
        "def outer():\n"
        '    s = json.load(open(os.getenv("SECRETS_PATH")))\n'
        "    def inner():\n"
        '        return s["gone"]\n'
        "    return inner\n"
    )
    toml = HOME_TOML + CLOUD + 'secrets = "secrets.json"\n'
    root = make(tmp_path, {"mse_src/app.py": app, "secrets.json": '{"login": ""}'}, toml=toml)
    found = findings(catalog, root, "MSE209")
    assert [(d.span.line, "'missing'" in d.message or "'gone'" in d.message) for d in found] == [
        (9, True),
        (14, True),
    ]


@pytest.mark.parametrize(
    ("secrets_line", "files"),
    [
        ("", {}),  # no secrets file configured
        ('secrets = "secrets.json"\n', {}),  # configured but missing
        ('secrets = "secrets.json"\n', {"secrets.json": "not json"}),
        ('secrets = "secrets.json"\n', {"secrets.json": '["a list"]'}),
    ],
)
def test_secret_keys_unknown(
    catalog: Catalog, tmp_path: Path, secrets_line: str, files: dict[str, str]
) -> None:
    toml = HOME_TOML + CLOUD + secrets_line
    root = make(tmp_path, {"mse_src/app.py": KEYS_APP, **files}, toml=toml)
    assert findings(catalog, root, "MSE209") == []


def test_secret_keys_empty_file(catalog: Catalog, tmp_path: Path) -> None:
    toml = HOME_TOML + CLOUD + 'secrets = "secrets.json"\n'
    root = make(tmp_path, {"mse_src/app.py": SEED_APP, "secrets.json": "{}"}, toml=toml)
    found = findings(catalog, root, "MSE209")
    assert len(found) == 1 and "(it has: no keys at all)" in found[0].message


def test_configured_name_is_a_secrets_path_literal(catalog: Catalog, tmp_path: Path) -> None:
    toml = HOME_TOML + CLOUD + 'secrets = "config/app-secrets.json"\n'
    app = 'import json\n\nS = json.load(open("../config/app-secrets.json"))\n'
    root = make(tmp_path, {"mse_src/app.py": app, "config/app-secrets.json": "{}"}, toml=toml)
    found = findings(catalog, root, "MSE208")
    assert [d.span.line for d in found] == [3]
    assert "$SECRETS_PATH (/root/.cache/mse/secrets.json)" in found[0].message


# ================================================================================================
# MSE210: $SEALED_SECRETS_PATH on MSE cloud
# ================================================================================================
SEALED_APP = """import os
from os import environ
from os import getenv as g
from pathlib import Path

A = os.getenv("SEALED_SECRETS_PATH")
B = os.environ["SEALED_SECRETS_PATH"]
C = os.environ.get("SEALED_SECRETS_PATH", "")
D = g("SEALED_SECRETS_PATH")
E = environ["SEALED_SECRETS_PATH"]
F = Path(os.getenv("SECRETS_PATH"))
NAME = "SEALED_SECRETS_PATH"


def shadowed():
    g = dict(SEALED_SECRETS_PATH=1).get
    return g("SEALED_SECRETS_PATH")


def described():
    return "set SEALED_SECRETS_PATH with mse home"
"""


def test_sealed_secrets_on_cloud(catalog: Catalog, tmp_path: Path) -> None:
    root = make(tmp_path, {"mse_src/app.py": SEALED_APP}, toml=HOME_TOML + CLOUD + CLOUD_FILLED)
    found = findings(catalog, root, "MSE210")
    assert [d.span.line for d in found] == [6, 7, 8, 9, 10]
    assert found[0].message.startswith('`os.getenv("SEALED_SECRETS_PATH")` reads')
    assert found[0].span == Span(6, 5, 6, 37)


@pytest.mark.parametrize("cloud", [CLOUD, CLOUD + 'docker = ""\nproject = ""\nhardware = ""\n', ""])
def test_sealed_secrets_on_home(catalog: Catalog, tmp_path: Path, cloud: str) -> None:
    toml = HOME_TOML + cloud
    root = make(tmp_path, {"mse_src/app.py": SEALED_APP}, toml=toml)
    assert findings(catalog, root, "MSE210") == []


def test_home_scaffold_app(catalog: Catalog, tmp_path: Path) -> None:
    """The `mse home scaffold` app reads both files: clean on home, MSE210 once set for cloud."""
    app = (
        "import json, os\nfrom pathlib import Path\n\n"
        'secrets = json.loads(Path(os.getenv("SECRETS_PATH")).read_text())\n'
        'sealed_secrets = json.loads(Path(os.getenv("SEALED_SECRETS_PATH")).read_text())\n\n'
        "def key():\n"
        '    return secrets["salt"], secrets["password"], sealed_secrets["result_sk"]\n'
    )
    files = {
        "mse_src/app.py": app,
        "secrets.json": '{"salt": "", "password": ""}',
        "secrets_to_seal.json": '{"result_sk": ""}',
    }
    home = HOME_TOML + CLOUD + 'secrets = "secrets.json"\n'
    root = make(tmp_path, files, toml=home)
    outcome = lint([root], catalog, Settings(), cwd=root)
    assert [d.rule for d in outcome.diagnostics if d.rule.startswith("MSE2")] == []
    (root / "mse.toml").write_text(home + CLOUD_FILLED)
    outcome = lint([root], catalog, Settings(), cwd=root)
    assert [(d.rule, d.span.line) for d in outcome.diagnostics if d.rule.startswith("MSE2")] == [
        ("MSE210", 5)
    ]


def test_rules_off(catalog: Catalog, tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {"mse_src/secrets.json": "{}", "mse_src/requirements.txt": "-i https://u:S3cretPass1@h/\n"},
    )
    settings = replace(Settings(), ignore=("MSE205", "MSE206"))
    outcome = lint([root], catalog, settings, cwd=root)
    assert [d.rule for d in outcome.diagnostics if d.rule in ("MSE205", "MSE206")] == []
