"""How mse-cli reads the values of mse.toml (MSE401-MSE410): the key table of its pydantic v1
models (KeySpec, from rules/config.toml), TOML and pydantic type names, pydantic's str and
datetime coercions, and the small value tests the checks of mse_lint.checks.config share."""

from __future__ import annotations

import datetime as dt
import keyword
import re
from pathlib import Path
from typing import Any, Optional

from mse_lint.core.record import Frozen

# pydantic v1's datetime format (pydantic.datetime_parse.datetime_re)
PYDANTIC_DATETIME = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"[T ](?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:\.(?P<microsecond>\d{1,6})\d{0,6})?)?"
    r"(?P<tzinfo>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


class KeySpec(Frozen):
    schema: str
    table: str
    key: str
    type: str
    required: bool = False
    min: Optional[int] = None
    max: Optional[int] = None
    strip: bool = False
    cloud_only: bool = False
    either: str = ""
    ignored: str = ""


def toml_kind(value: Any) -> str:
    """toml 0.10.2's notion of an array item's type: arrays of any arrays are homogeneous."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return "datetime"
    for kind in (str, int, float, list, dict):
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


def relative(target: Path, folder: Path) -> str:
    try:
        return target.relative_to(folder).as_posix()
    except ValueError:
        return target.as_posix()


def toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def inline_pem(value: str) -> bool:
    """A PEM block written in mse.toml itself, not the path of a file."""
    return value.lstrip().startswith("-----BEGIN ")


def bad_date(tag: str) -> bool:
    try:
        dt.datetime.strptime(tag, "%Y%m%d%H%M%S")
    except ValueError:
        return True
    return False


def pydantic_str(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else str(value)


def type_problem(spec: KeySpec, value: Any) -> Optional[str]:
    """pydantic v1's coercions: str takes numbers and booleans; Path only strings."""
    kind = spec.type
    if kind == "str":
        ok = isinstance(value, (str, int, float))
        need = "a string"
    elif kind == "path":
        ok = isinstance(value, str)
        need = "a path (a string)"
    elif kind == "list_str":
        ok = isinstance(value, list)
        need = "a list of strings"
    elif kind == "table":
        ok = isinstance(value, dict)
        need = "a table"
    elif kind == "bool":
        ok = isinstance(value, (bool, int, str))
        need = "a boolean"
    else:
        return None  # datetime: MSE408
    if ok:
        return None
    return f"must be {need}, not {toml_type(value)}: mse-cli refuses the file"


def toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return "a date/time"
    return type(value).__name__


def app_problem(text: str) -> Optional[str]:
    parts = text.split(":")
    if len(parts) != 2:
        return (
            f"= {text!r} is not `module:variable` with exactly one `:`: mse-cli refuses it "
            "at deploy"
        )
    module, variable = parts
    if not module or not all(p.isidentifier() for p in module.split(".")):
        return f"= {text!r}: {module!r} is not a module name (dotted identifiers)"
    if not variable.isidentifier() or keyword.iskeyword(variable):
        why = (
            "the enclave reads the variable with getattr and never calls it"
            if "(" in variable
            else "the enclave reads one attribute of the module with getattr"
        )
        return f"= {text!r}: {variable!r} is not a variable name ({why})"
    return None


def pydantic_datetime(value: Any) -> Optional[dt.datetime]:
    """``expiration_date`` as mse-cli's model reads it (aware), None when it cannot."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.astimezone()
    if isinstance(value, (bool, dt.date, dt.time)):
        return None
    if isinstance(value, (int, float)):
        return unix(float(value))
    if isinstance(value, str):
        try:
            return unix(float(value))
        except ValueError:
            pass
        m = PYDANTIC_DATETIME.match(value)
        if not m:
            return None
        g = m.groupdict()
        tz: Optional[dt.tzinfo] = None
        if g["tzinfo"] == "Z":
            tz = dt.timezone.utc
        elif g["tzinfo"]:
            sign = -1 if g["tzinfo"][0] == "-" else 1
            digits = g["tzinfo"][1:].replace(":", "")
            offset = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
            tz = dt.timezone(dt.timedelta(minutes=sign * offset))
        try:
            when = dt.datetime(
                int(g["year"]),
                int(g["month"]),
                int(g["day"]),
                int(g["hour"]),
                int(g["minute"]),
                int(g["second"] or 0),
                int((g["microsecond"] or "0").ljust(6, "0")),
                tzinfo=tz,
            )
        except ValueError:
            return None
        return when if when.tzinfo is not None else when.astimezone()
    return None


def unix(seconds: float) -> Optional[dt.datetime]:
    if abs(seconds) > 2e10:  # pydantic reads large numbers as milliseconds
        seconds /= 1000
    try:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
