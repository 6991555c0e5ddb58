"""The enclave's Python version for a project: given (``--target-python``, config) or inferred
from the docker image the project deploys on (the date tag of Cosmian's ``mse-*`` base images
tells Ubuntu 20.04 / Python 3.8 from Ubuntu 22.04 / Python 3.10). The tag table is data:
``[target]`` in ``rules/compat.toml``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Callable, Optional

from mse_lint.core.catalog import Catalog
from mse_lint.core.record import Frozen
from mse_lint.core.settings import DEFAULT_TARGET_PYTHON, Settings
from mse_lint.project.model import Project

_TAG = re.compile(r"^\d{14}$")
_FROM = re.compile(r"^\s*FROM\s+(.*)$", re.IGNORECASE)


class Target(Frozen):
    version: tuple[int, int]
    reason: str  # why this version, in words for a notice
    inferred: bool  # from the project (not given by the user, not the default)

    @property
    def label(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def split_image(image: str) -> tuple[str, Optional[str]]:
    """(repository, tag) of ``registry/path/name:tag@digest``; the tag is None when absent."""
    ref = image.strip().split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        return ref[: len(ref) - len(last)] + last.split(":", 1)[0], last.split(":", 1)[1]
    return ref, None


def python_for_image(image: str, data: Mapping[str, Any]) -> Optional[tuple[tuple[int, int], str]]:
    """The Python version an image runs and why, when its tag dates a known base image."""
    repo, tag = split_image(image)
    name = repo.rsplit("/", 1)[-1]
    if not any(fnmatchcase(name, p) for p in data.get("images", ())):
        return None
    if tag is None or not _TAG.match(tag):
        return None
    for row in data.get("tags", ()):
        low, high = row.get("from"), row.get("until")
        if (low is None or tag >= low) and (high is None or tag <= high):
            version = _version(row["python"])
            if high is not None:
                why = f"{name} images tagged up to {high} run Python {row['python']}"
            else:
                why = f"{name} images tagged {low} and later run Python {row['python']}"
            return version, why
    return None


def dockerfile_image(
    folder: Path, reader: Optional[Callable[[Path, str], Optional[bytes]]] = None
) -> Optional[str]:
    """The base image of the final stage of ``folder/Dockerfile`` (``mse home`` projects name
    their image there), or None when there is no such file or the image is computed (``$ARG``)."""
    from mse_lint.project.requirements import read_text

    text = read_text(folder / "Dockerfile", "Dockerfile", reader)
    if text is None:
        return None
    stages: dict[str, str] = {}
    last: Optional[str] = None
    for line in text.splitlines():
        m = _FROM.match(line)
        if not m:
            continue
        words = [w for w in m.group(1).split() if not w.startswith("--")]
        if not words:
            continue
        image = stages.get(words[0].lower(), words[0])
        if len(words) >= 3 and words[1].lower() == "as":
            stages[words[2].lower()] = image
        last = image
    if last is None or "$" in last:
        return None
    return last


def effective_target(
    settings: Settings, project: Project, docker: Optional[str], catalog: Catalog
) -> Target:
    """``--target-python`` / config first, then the image of mse.toml (``[cloud] docker`` or
    0.x ``[code] docker``), then the project Dockerfile's ``FROM``, else the default."""
    default = f"{DEFAULT_TARGET_PYTHON[0]}.{DEFAULT_TARGET_PYTHON[1]}"
    if settings.target_python is not None:
        return Target(
            settings.target_python, "given by --target-python or the target-python setting", False
        )
    data = catalog.data("compat").get("target", {})
    candidates: list[tuple[str, str]] = []
    if docker and docker.strip():
        candidates.append((docker.strip(), "the docker image in mse.toml"))
    if project.mse_toml is not None:
        image = dockerfile_image(project.mse_toml.folder, project.read)
        if image:
            candidates.append((image, "the FROM line of the project Dockerfile"))
    for image, where in candidates:
        found = python_for_image(image, data)
        if found is not None:
            version, why = found
            return Target(version, f"inferred from {where}, {image} ({why})", True)
    if candidates:
        image, where = candidates[0]
        return Target(
            DEFAULT_TARGET_PYTHON,
            f"{where}, {image}, has no dated Cosmian base-image tag: assuming {default}",
            False,
        )
    return Target(DEFAULT_TARGET_PYTHON, f"no docker image named: assuming {default}", False)
