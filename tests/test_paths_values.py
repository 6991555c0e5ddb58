"""The path-value model (mse_lint.analysis.pathvalue): where a known prefix puts a path in
the enclave, and how joins, concatenation and parents keep what is known. The analysis over real
code is tested by the annotated fixtures in tests/fixtures/paths/."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from mse_lint.analysis.pathvalue import (
    MORE_CHARS,
    MORE_PARTS,
    PathValue,
    Places,
    concat,
    file_place,
    join,
    load_places,
    parent,
)
from mse_lint.core.catalog import Catalog


@pytest.fixture(scope="module")
def places(catalog: Catalog) -> Places:
    return load_places(catalog.data("environment"))


def test_places_come_from_the_enclave_variables(places: Places) -> None:
    assert dict(places.roots) == {
        "TMP": "/tmp",
        "HOME": "/root",
        "KEY": "/key",
        "MODULE": "/mse-app",
    }
    assert places.env["SECRETS_PATH"] == ("/root/.cache/mse/secrets.json", "HOME")
    assert places.env["PYTHONPATH"] == ("", None)
    assert len(places.env) == 11


@pytest.mark.parametrize(
    ("text", "more", "expected"),
    [
        ("/tmp", "", "TMP"),
        ("/tmp/x.csv", "", "TMP"),
        ("/tmp", MORE_PARTS, "TMP"),  # /tmp/ + something
        ("/tmp", MORE_CHARS, None),  # /tmp + something: /tmp/x or /tmpfoo
        ("/tmpfoo", "", "OTHER"),
        ("/rootfs/a", "", "OTHER"),
        ("/root/.cache", MORE_CHARS, "HOME"),
        ("/", MORE_PARTS, None),  # anywhere
        ("/r", MORE_CHARS, None),  # could become /root
        ("/data", MORE_PARTS, "OTHER"),
        ("/data", MORE_CHARS, "OTHER"),  # /data... is never under a root
        ("/mse-app/model", "", "MODULE"),
        ("/key/k.pem", "", "KEY"),
    ],
)
def test_place_of_a_known_prefix(
    places: Places, text: str, more: str, expected: Optional[str]
) -> None:
    assert places.place(PathValue(text, more)) == expected


def test_join_and_concat_keep_what_is_known() -> None:
    data = PathValue("/data", obj=True)
    assert join(data, PathValue("x.csv"), True).text == "/data/x.csv"
    assert join(data, PathValue("/tmp/x"), True).text == "/tmp/x"  # an absolute part restarts
    unknown = join(data, None, True)
    assert (unknown.text, unknown.more, unknown.shown()) == ("/data", MORE_PARTS, "/data/…")
    assert join(unknown, PathValue("x"), True).shown() == "/data/…"  # nothing known after
    assert concat(PathValue("/data/"), None).shown() == "/data/…"
    assert concat(PathValue("/data"), None).shown() == "/data…"
    assert concat(PathValue("/srv"), PathValue("/app/../x")).text == "/srv/x"
    assert join(PathValue("."), PathValue("out.csv"), False).text == "out.csv"


def test_parent_stays_in_the_code_dir_when_the_file_depth_is_unknown() -> None:
    known = PathValue("/mse-app/pkg/mod.py", obj=True)
    assert parent(known, "/mse-app") == PathValue("/mse-app/pkg", obj=True)
    top = PathValue("/mse-app/mod.py", obj=True)
    code_root = parent(top, "/mse-app")
    assert code_root is not None and parent(code_root, "/mse-app") == PathValue("/", obj=True)
    guess = PathValue("/mse-app/module.py", obj=True, anchored=False)
    code = parent(guess, "/mse-app")
    assert code is not None and code.text == "/mse-app"
    assert parent(code, "/mse-app") is None  # above the code dir: not known
    assert parent(PathValue("data/x.csv"), "/mse-app") == PathValue("data")
    assert parent(PathValue("/data", MORE_PARTS), "/mse-app") is None


def test_file_place(tmp_path: Path) -> None:
    code = tmp_path / "src"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "m.py").write_text("")
    (tmp_path / "other.py").write_text("")
    assert file_place(str(code / "pkg" / "m.py"), str(code)) == "pkg/m.py"
    assert file_place(str(tmp_path / "other.py"), str(code)) is None
    assert file_place(str(code / "pkg" / "m.py"), None) is None
