"""What the enclave's Python can import beyond the stdlib and the code dir: the distributions the
docker image carries (by the era its tag falls in), what they and the requirements pull in, and
which distributions provide a module (rules/shipping.toml). Shared by MSE504 (checks/imports.py),
MSE507 (checks/shipping.py) and the runtime rules (checks/runtime.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Optional

from mse_lint.checks import ProjectInfo
from mse_lint.core.catalog import Catalog
from mse_lint.core.record import Frozen
from mse_lint.project.requirements import canonical, requirement_names


def image_name(docker: str) -> str:
    """`ghcr.io/cosmian/mse-flask:20230810125234` -> `mse-flask`."""
    ref = docker.strip().split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def image_tag(docker: str) -> Optional[str]:
    """`ghcr.io/cosmian/mse-flask:20230810125234` -> `20230810125234`; None without a tag."""
    ref = docker.strip().split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


class Environment(Frozen):
    """What the enclave's Python can import beyond the stdlib and the code dir."""

    image: Optional[str]  # the docker image as written (mse.toml or the Dockerfile's FROM)
    known: bool  # the image is one the catalogue describes
    image_label: str  # for messages: "`mse-flask` (flask 2.2.2, ...)"
    requirements: Optional[frozenset[str]]  # canonical names the requirements install
    installed: frozenset[str]  # every canonical distribution known to be there


class _Era(Frozen):
    """What the images of a family built from ``start`` on carry (``start`` None: every tag
    older than the next era)."""

    start: Optional[str]
    packages: tuple[tuple[str, str], ...]  # (name as written, pinned version)


def _release(version: str) -> tuple[int, ...]:
    """`2.0.3` -> (2, 0, 3): enough to order the plain release numbers the catalogue pins
    (importing ``packaging`` for them would cost every project run ~65 ms)."""
    out = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        out.append(int(digits.group()))
    return tuple(out)


class Distributions:
    """The catalogue's images, dependencies and import-name map (rules/shipping.toml)."""

    def __init__(self, catalog: Catalog) -> None:
        data = catalog.data("shipping")
        self.images: dict[str, tuple[_Era, ...]] = {}
        for raw in data.get("images", []):
            eras = []
            for era in raw.get("eras", []):
                pkgs = []
                for spec in era.get("packages", []):
                    name, _, version = str(spec).partition("==")
                    pkgs.append((name, version))
                start = era.get("from")
                eras.append(_Era(str(start) if start is not None else None, tuple(pkgs)))
            # the first era may be open-ended; the others are ordered by their start
            eras.sort(key=lambda e: e.start or "")
            self.images[str(raw["name"])] = tuple(eras)
        self.dated_tag = re.compile(str(data.get("image_tag_pattern", r"^[0-9]{14}$")))
        self.base = tuple(canonical(p) for p in data.get("base_packages", ()))
        self.deps: dict[str, tuple[str, ...]] = {
            canonical(k): tuple(canonical(d) for d in v)
            for k, v in data.get("dependencies", {}).items()
        }
        self.deps_before: dict[str, tuple[tuple[int, ...], frozenset[str]]] = {
            canonical(k): (_release(str(v["before"])), frozenset(map(canonical, v["without"])))
            for k, v in data.get("dependencies_before", {}).items()
        }
        self.modules: dict[str, tuple[str, ...]] = {}
        for key, value in data.get("modules", {}).items():
            dists = [value] if isinstance(value, str) else list(value)
            self.modules[str(key)] = tuple(str(d) for d in dists)

    def image_packages(self, image: str) -> Optional[tuple[tuple[str, str], ...]]:
        """The pinned packages (name, version) the image ``registry/path/name:tag`` carries,
        from the era its tag falls in; None when the catalogue does not know the image (another
        family, or a dated tag older than the family's first known era). A tag that is not a
        build date (none, `latest`, a commit hash) gets the newest era."""
        eras = self.images.get(image_name(image))
        if not eras:
            return None
        tag = image_tag(image)
        if tag is None or not self.dated_tag.match(tag):
            return eras[-1].packages
        found: Optional[_Era] = None
        for era in eras:
            if era.start is None or era.start <= tag:
                found = era
        return found.packages if found is not None else None

    def image_distributions(self, image: str) -> Optional[frozenset[str]]:
        """Every canonical distribution the image holds (its packages, what they pull in, the
        MSE runtime), or None when the image is not known."""
        pkgs = self.image_packages(image)
        if pkgs is None:
            return None
        return self.closure([*self.base, *(p for p, _ in pkgs)], dict(pkgs))

    def closure(
        self, names: Iterable[str], versions: Optional[Mapping[str, str]] = None
    ) -> frozenset[str]:
        """``names`` and everything they install. ``versions`` (name as written -> pinned
        version) drops what a pinned release did not depend on yet."""
        pinned = {canonical(k): _release(v) for k, v in (versions or {}).items() if v}
        seen: set[str] = set()
        todo = [canonical(n) for n in names]
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            deps = self.deps.get(n, ())
            older = self.deps_before.get(n)
            if older is not None and n in pinned and pinned[n] < older[0]:
                deps = tuple(d for d in deps if d not in older[1])
            todo.extend(deps)
        return frozenset(seen)

    def providers(self, module: str) -> tuple[str, ...]:
        """The distributions (as written, first = to suggest) that may provide ``module``
        (dotted), by its longest catalogued prefix; else the top-level name itself."""
        parts = module.split(".")
        for i in range(len(parts), 0, -1):
            found = self.modules.get(".".join(parts[:i]))
            if found is not None:
                return found
        return (parts[0],)

    def environment(self, info: ProjectInfo, python: tuple[int, int]) -> Environment:
        docker = (info.docker or "").strip()
        installs: tuple[str, ...] = ()
        image: Optional[str] = docker or None
        if not docker and info.dockerfile_image:
            # `mse home`: the app runs in the image the project Dockerfile builds
            image, installs = info.dockerfile_image, info.dockerfile_installs
        name = image_name(image) if image else ""
        found = self.image_packages(image) if image else None
        known = found is not None
        pkgs = found or ()
        label = f"`{name}`" if name else "(none configured)"
        if known:
            listed = ", ".join(f"{p} {v}".strip() for p, v in pkgs)
            label += f" ({listed})" if listed else " (the MSE runtime only)"
        if installs:
            label += " plus its Dockerfile's `pip install` of " + ", ".join(installs)
        requirements: Optional[frozenset[str]] = None
        if info.requirements is not None:
            requirements = frozenset(requirement_names(info.requirements, python))
        dockerfile_names = requirement_names(installs, python)
        installed = self.closure(
            [
                *(self.base if image else ()),
                *(p for p, _ in pkgs),
                *dockerfile_names,
                *(requirements or ()),
            ],
            # what the image pins is known; a requirement may name the same distribution
            # unpinned, and then its newest release counts
            {p: v for p, v in pkgs if canonical(p) not in (requirements or ())},
        )
        return Environment(image, known, label, requirements, installed)
