"""Path values: where a path expression points once the app runs in the enclave.

A value is an enclave path with a known prefix: absolute (``/root/date.txt``, ``/data/…``) or
relative to the working directory (``out.csv``), and whether more follows that the code computes
at run time (a parameter joined to a constant: ``/data/…``). Expressions are followed through
the module (``ModuleIndex``: scope-aware, per function, through aliases): constants and local
variables, ``Path(...)``, ``/``, ``os.path.join``, ``.joinpath``, ``.parent``, ``with_suffix``,
f-strings, ``+``, ``%`` and ``format`` on literals, ``Path.home()``, ``expanduser``, the
environment (``os.getenv("HOME")`` is ``/root``; a variable the enclave does not set gives its
default or nothing), ``tempfile``, ``__file__`` (``/mse-app/<its place in the code dir>``).
Anything else (a parameter, a call result, an attribute of an object) is unknown: no value, and
the checks never report it.

Why one module of about 750 lines: it is one recursive evaluator (``Evaluator``) with a method per
kind of expression, the value record it builds and the catalogue data it reads (``Places``,
``Rules``); its methods call each other for every sub-expression, so a split would only spread
one recursion over files.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
from collections.abc import Mapping
from typing import Any, Optional

from mse_lint.analysis.astwalk import children, walk
from mse_lint.analysis.scope import ModuleIndex, Ref
from mse_lint.core.record import Frozen, replace

MORE_PARTS = "/"  # more path components follow the known text
MORE_CHARS = "…"  # more characters follow the known text directly
_MAX_VALUES = 8
_MAX_DEPTH = 24
_FIELD = re.compile(r"\{([^{}]*)\}")
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdirfgeExXouc]")


class PathValue(Frozen):
    text: str  # an absolute enclave path, or a path relative to the working directory
    more: str = ""  # "" the whole path; MORE_PARTS / MORE_CHARS: unknown text follows
    obj: bool = False  # a pathlib object (so that `.write_text()` & co apply)
    via: str = ""  # where the root came from, for messages: "$HOME", "__file__"...
    literal: Optional[ast.expr] = None  # the string literal that spelled the root
    anchored: bool = True  # False: from the __file__ of a file whose place is not known
    kind: str = "path"  # "path", or a tempfile object whose `.name` is in `text`

    def __init__(
        self,
        text: str,
        more: str = "",
        obj: bool = False,
        via: str = "",
        literal: Optional[ast.expr] = None,
        anchored: bool = True,
        kind: str = "path",
    ) -> None:
        # made and compared by the thousand: fields written straight into the instance dict
        # (half the time of seven object.__setattr__ calls), equality without the field loop
        d = self.__dict__
        d["text"] = text
        d["more"] = more
        d["obj"] = obj
        d["via"] = via
        d["literal"] = literal
        d["anchored"] = anchored
        d["kind"] = kind

    def _values(self) -> tuple[Any, ...]:
        return (self.text, self.more, self.obj, self.via, self.literal, self.anchored, self.kind)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self.__dict__ == other.__dict__
        return NotImplemented

    __hash__ = Frozen.__hash__  # (defining __eq__ would drop the inherited one)

    @property
    def absolute(self) -> bool:
        return self.text.startswith("/")

    @property
    def exact(self) -> bool:
        return not self.more

    def shown(self) -> str:
        if self.more == MORE_PARTS:
            return (self.text.rstrip("/") or "") + "/…"
        return self.text + self.more

    def basename(self) -> str:
        return self.text.rstrip("/").rsplit("/", 1)[-1] if self.exact else ""


def _normal(v: PathValue) -> PathValue:
    text, more = v.text, v.more
    if more == MORE_CHARS and text.endswith("/"):
        more = MORE_PARTS
    # a trailing "/" stays: more text concatenated later starts a new component
    slash = "/" if text.endswith("/") and text.strip("/") else ""
    if text.startswith("/"):
        text = posixpath.normpath(text)
        if text.startswith("//"):
            text = "/" + text.lstrip("/")
    elif text:
        text = posixpath.normpath(text)
    if slash and text != "/":
        text += slash
    if text == v.text and more == v.more:
        return v
    return replace(v, text=text, more=more)


def join(a: PathValue, b: Optional[PathValue], obj: bool) -> PathValue:
    """``a / b`` (``b`` None: a part not known)."""
    if a.more:
        return replace(a, obj=obj)
    if b is None:
        return replace(a, more=MORE_PARTS, obj=obj)
    if b.absolute:
        return replace(b, obj=obj)
    if not b.text or b.text == ".":
        return replace(a, more=b.more, obj=obj)
    sep = "" if a.text.endswith("/") or not a.text else "/"
    if a.text == ".":
        text = b.text
    else:
        text = a.text + sep + b.text
    return _normal(replace(a, text=text, more=b.more, obj=obj))


def concat(a: PathValue, b: Optional[PathValue]) -> PathValue:
    """``a + b`` as strings (``b`` None: text not known)."""
    if a.more:
        return a
    if b is None:
        return _normal(replace(a, more=MORE_CHARS, obj=False))
    return _normal(replace(a, text=a.text + b.text, more=b.more, obj=False))


def parent(v: PathValue, code_root: str) -> Optional[PathValue]:
    if not v.exact:
        return None
    if not v.absolute:
        head = posixpath.dirname(v.text.rstrip("/"))
        return replace(v, text=head or ".")
    if v.text == "/":
        return v
    head = posixpath.dirname(v.text.rstrip("/")) or "/"
    if not v.anchored and not (head == code_root or head.startswith(code_root + "/")):
        return None  # above the code dir, from a file whose depth in it is not known
    return replace(v, text=head)


class Places(Frozen):
    """The enclave places: root name -> path, and the environment that names them."""

    roots: Mapping[str, str]  # HOME -> /root
    env: Mapping[str, tuple[str, Optional[str]]]  # variable -> (value or "", root or None)
    code_root: str = "/mse-app"

    def place(self, v: PathValue) -> Optional[str]:
        """The root an absolute value is under, "OTHER", or None when it cannot be known."""
        t = v.text
        for name, path in self.roots.items():
            if (t == path and v.more != MORE_CHARS) or t.startswith(path + "/"):
                return name
        if v.more == MORE_CHARS and any(p.startswith(t) for p in self.roots.values()):
            return None
        if v.more == MORE_PARTS and any(
            p.startswith(t.rstrip("/") + "/") for p in self.roots.values()
        ):
            return None
        return "OTHER"

    def literal_root(self, text: str) -> Optional[str]:
        for name, path in self.roots.items():
            if text == path or text.startswith(path + "/"):
                return name
        return None


def load_places(env_data: Mapping[str, Any]) -> Places:
    roots: dict[str, str] = {}
    env: dict[str, tuple[str, Optional[str]]] = {}
    for var in env_data.get("variable", []):
        root = var.get("root")
        value = var.get("value", "")
        env[var["name"]] = (value, root)
        if root:
            roots.setdefault(
                root, value
            )  # the first variable of a root names it (HOME, not SECRETS_PATH)
    return Places(roots, env, roots.get("MODULE", "/mse-app"))


class Rules(Frozen):
    """What calls and methods build paths (rules/paths.toml [values], [methods]...)."""

    values: Mapping[str, str]
    methods: Mapping[str, str]
    constants: Mapping[str, str]
    aliases: Mapping[str, str]
    env_calls: Mapping[str, tuple[Optional[int], Optional[str]]]  # qname -> default arg
    env_mappings: frozenset[str]
    dirs: Mapping[str, tuple[Optional[int], Optional[str]]]  # tempfile qname -> its `dir` arg

    def normal(self, qname: str) -> str:
        head, _, rest = qname.partition(".")
        alias = self.aliases.get(head)
        return f"{alias}.{rest}" if alias and rest else qname


def load_rules(paths_data: Mapping[str, Any], env_data: Mapping[str, Any]) -> Rules:
    reads = env_data.get("reads", {})
    calls: dict[str, tuple[Optional[int], Optional[str]]] = {}
    for c in reads.get("calls", []):
        d = c.get("default", {})
        calls[c["name"]] = (d.get("pos"), d.get("arg"))
    return Rules(
        values=dict(paths_data.get("values", {})),
        methods=dict(paths_data.get("methods", {})),
        constants=dict(paths_data.get("constants", {})),
        aliases=dict(paths_data.get("aliases", {})),
        env_calls=calls,
        env_mappings=frozenset(reads.get("mappings", ())),
        dirs={
            a["name"]: (a["dir"].get("pos"), a["dir"].get("arg"))
            for a in paths_data.get("calls", {}).get("api", [])
            if "dir" in a
        },
    )


def argument(call: ast.Call, pos: Optional[int], arg: Optional[str]) -> Optional[ast.expr]:
    """The argument at ``pos`` or keyword ``arg`` (None when absent or hidden in ``*args``)."""
    for kw in call.keywords:
        if kw.arg is not None and kw.arg == arg:
            return kw.value
    if pos is not None:
        for i, a in enumerate(call.args):
            if isinstance(a, ast.Starred):
                return None
            if i == pos:
                return a
    return None


def has_argument(call: ast.Call, pos: Optional[int], arg: Optional[str]) -> bool:
    """Whether the argument may be given (a ``*args``/``**kwargs`` may hold it)."""
    if any(kw.arg is None or kw.arg == arg for kw in call.keywords):
        return True
    if pos is None:
        return False
    return any(isinstance(a, ast.Starred) for a in call.args) or len(call.args) > pos


# a name after `as`: what `with ... as name` may bind (a superset: imports and excepts too)
_AS_NAME = re.compile(r"\bas\s+(\w+)")


class Evaluator:
    """Path values of the expressions of one module."""

    def __init__(
        self,
        tree: ast.Module,
        index: ModuleIndex,
        places: Places,
        rules: Rules,
        file_rel: Optional[str],
        source: str = "",
    ) -> None:
        self.index = index
        self.source = source
        self.places = places
        self.rules = rules
        self.by_node: dict[int, Ref] = {}
        for ref in index.refs:
            self.by_node.setdefault(id(ref.node), ref)
            if isinstance(ref.root, ast.Name):
                self.by_node.setdefault(id(ref.root), ref)
        code = places.code_root
        if file_rel is not None:
            self.file = PathValue(f"{code}/{file_rel}", obj=False, via="__file__")
        else:
            self.file = PathValue(f"{code}/module.py", via="__file__", anchored=False)
        self._memo: dict[int, list[PathValue]] = {}
        self._qnames: dict[int, frozenset[str]] = {}
        self._with: Optional[dict[tuple[int, str], list[tuple[int, int, ast.expr]]]] = None
        self._as_names: Optional[frozenset[str]] = None
        self._functions: Optional[dict[str, ast.FunctionDef]] = None
        self.tree = tree

    # -- names -----------------------------------------------------------------------------------
    def ref_of(self, node: ast.expr) -> Optional[Ref]:
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        return self.by_node.get(id(root)) or self.by_node.get(id(node))

    def qnames(self, node: ast.expr) -> frozenset[str]:
        """Qualified names ``node`` may be (normalised: ``posixpath.join`` is os.path.join)."""
        key = id(node)
        found = self._qnames.get(key)
        if found is None:
            ref = self.ref_of(node)
            if ref is None:
                found = frozenset()
            else:
                values = self.index.resolve(node, ref.scope, ref.order, ref.path)
                found = frozenset(self.rules.normal(v.qname) for v in values)
            self._qnames[key] = found
        return found

    def const_str(self, node: Optional[ast.expr], depth: int = 0) -> Optional[str]:
        """A str literal, directly or through names bound to one (a single value)."""
        if node is None or depth > 6:
            return None
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.Name):
            ref = self.by_node.get(id(node))
            if ref is None:
                return None
            found: set[Optional[str]] = set()
            for b in self.index.reaching_bindings(ref.scope, node.id, ref.order, ref.path):
                found.add(self.const_str(b.expr, depth + 1) if b.expr is not None else None)
            if len(found) == 1:
                return found.pop()
        return None

    def is_none(self, node: Optional[ast.expr]) -> bool:
        return isinstance(node, ast.Constant) and node.value is None

    # -- values ----------------------------------------------------------------------------------
    def values(self, node: Optional[ast.expr], depth: int = 0) -> list[PathValue]:
        if node is None:
            return []
        key = id(node)
        if key in self._memo:
            return self._memo[key]
        if depth > _MAX_DEPTH:
            return []
        self._memo[key] = []  # a cycle through bindings resolves to nothing
        found = self._values(node, depth + 1)
        unique: list[PathValue] = []
        for v in found:
            if v not in unique:
                unique.append(v)
        self._memo[key] = unique[:_MAX_VALUES]
        return self._memo[key]

    def _values(self, node: ast.expr, depth: int) -> list[PathValue]:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        if isinstance(node, ast.Attribute):
            return self._attribute(node, depth)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, depth)
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node, depth)
        if isinstance(node, ast.IfExp):
            return self.values(node.body, depth) + self.values(node.orelse, depth)
        if isinstance(node, ast.BoolOp):
            out: list[PathValue] = []
            for operand in node.values:
                vals = self.values(operand, depth)
                out.extend(vals)
                if isinstance(node.op, ast.Or) and vals and all(v.text for v in vals):
                    break  # a non-empty path is truthy: `os.getenv("HOME") or "."` is /root
            return out
        if isinstance(node, ast.NamedExpr):
            return self.values(node.value, depth)
        return []

    def _constant(self, node: ast.Constant) -> list[PathValue]:
        value = node.value
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str) or "://" in value or "\n" in value or "\x00" in value:
            return []
        if value.lstrip()[:1] in ("{", "[", "<"):
            return []  # inline JSON / XML data, not a path
        literal = node if value.startswith("/") and self.places.literal_root(value) else None
        return [_normal(PathValue(value, literal=literal))]

    def _name(self, node: ast.Name, depth: int) -> list[PathValue]:
        ref = self.by_node.get(id(node))
        if ref is None:
            return []
        bindings = self.index.reaching_bindings(ref.scope, node.id, ref.order, ref.path)
        if not bindings:
            return [self.file] if node.id == "__file__" else []
        out: list[PathValue] = []
        for b in bindings:
            if b.expr is not None:
                out.extend(self.values(b.expr, depth))
            elif b.static is None:
                out.extend(self._with_target(ref, node, depth))
        return out

    def _with_target(self, ref: Ref, node: ast.Name, depth: int) -> list[PathValue]:
        if self._with is None:
            if self._as_names is None:
                self._as_names = frozenset(_AS_NAME.findall(self.source))
            if node.id not in self._as_names:
                return []  # not bound by a `with ... as name` anywhere (one walk saved)
            self._with = {}
            for w in walk(self.tree):
                if isinstance(w, (ast.With, ast.AsyncWith)) and w.body:
                    for item in w.items:
                        target = item.optional_vars
                        if not isinstance(target, ast.Name):
                            continue
                        expr = item.context_expr
                        r = self.ref_of(expr.func if isinstance(expr, ast.Call) else expr)
                        if r is None:
                            continue
                        end = getattr(w, "end_lineno", None) or w.body[-1].lineno
                        key = (id(r.scope), target.id)
                        self._with.setdefault(key, []).append((w.body[0].lineno, end, expr))
        out: list[PathValue] = []
        for start, end, expr in self._with.get((id(ref.scope), node.id), ()):
            if start <= node.lineno <= end:
                for v in self.values(expr, depth):
                    if v.kind == "tempdir_object":
                        out.append(replace(v, kind="path", more=MORE_PARTS))
                    elif v.kind == "tempfile":
                        out.append(v)
        return out

    def _attribute(self, node: ast.Attribute, depth: int) -> list[PathValue]:
        if node.attr == "parent":
            out = []
            for v in self.values(node.value, depth):
                if v.obj and v.kind == "path":
                    p = parent(v, self.places.code_root)
                    if p is not None:
                        out.append(p)
            return out
        if node.attr == "name":
            out = []
            for v in self.values(node.value, depth):
                if v.kind != "path":
                    out.append(replace(v, kind="path", obj=False, more=MORE_PARTS))
                elif v.obj and v.exact and v.basename():
                    out.append(PathValue(v.basename()))
            return out
        for q in self.qnames(node):
            if q in self.rules.constants:
                return [PathValue(self.rules.constants[q], via=f"`{q}`")]
        return []

    def _subscript(self, node: ast.Subscript, depth: int) -> list[PathValue]:
        if isinstance(node.ctx, ast.Load) and self.qnames(node.value) & self.rules.env_mappings:
            return self._env(self.const_str(node.slice), None, False, depth)
        return []

    def _env(
        self, name: Optional[str], default: Optional[ast.expr], has_default: bool, depth: int
    ) -> list[PathValue]:
        """The value of an environment read in the enclave."""
        if name is None:
            return []
        if name in self.places.env:
            value, root = self.places.env[name]
            if root is None or not value:
                return []
            return [PathValue(value, via=f"${name}")]
        # not set in the enclave: always the default
        return self.values(default, depth) if has_default else []

    def _binop(self, node: ast.BinOp, depth: int) -> list[PathValue]:
        op = node.op
        if isinstance(op, ast.Div):
            lefts = self.values(node.left, depth)
            if not lefts:
                return []
            rights = self.values(node.right, depth)
            if not any(a.obj for a in lefts) and not any(b.obj for b in rights):
                return []  # not a pathlib division
            return [join(a, b, True) for a in lefts for b in _or_unknown(rights)]
        if isinstance(op, ast.Add):
            lefts = self.values(node.left, depth)
            rights = self.values(node.right, depth)
            return [concat(a, b) for a in lefts for b in _or_unknown(rights)]
        if isinstance(op, ast.Mod) and isinstance(node.left, ast.Constant):
            template = node.left.value
            if not isinstance(template, str):
                return []
            right = node.right
            args = list(right.elts) if isinstance(right, ast.Tuple) else [right]
            pieces: list[Any] = []
            pos = 0
            for i, m in enumerate(_PERCENT.finditer(template)):
                pieces.append(template[pos : m.start()])
                pieces.append(args[i] if i < len(args) and not m.group().startswith("%(") else None)
                pos = m.end()
            pieces.append(template[pos:])
            return self._pieces(node.left, pieces, depth)
        return []

    def _fstring(self, node: ast.JoinedStr, depth: int) -> list[PathValue]:
        pieces: list[Any] = []
        for p in node.values:
            if isinstance(p, ast.Constant) and isinstance(p.value, str):
                pieces.append(p.value)
            elif isinstance(p, ast.FormattedValue):
                pieces.append(p.value if p.format_spec is None and p.conversion == -1 else None)
            else:
                pieces.append(None)
        return self._pieces(node, pieces, depth)

    def _pieces(
        self, literal: Optional[ast.expr], pieces: list[Any], depth: int
    ) -> list[PathValue]:
        """Text pieces (str), expressions to evaluate, or None (unknown), concatenated."""
        acc: list[PathValue] = [PathValue("")]
        first = True
        for piece in pieces:
            if isinstance(piece, str):
                if not piece:
                    continue
                if first:
                    lit = (
                        literal
                        if piece.startswith("/") and self.places.literal_root(piece)
                        else None
                    )
                    acc = [PathValue(piece, literal=lit)]
                else:
                    acc = [concat(a, PathValue(piece)) for a in acc]
            else:
                vals = self.values(piece, depth) if piece is not None else []
                if first:
                    if not vals:
                        return []
                    acc = [replace(v, obj=False) for v in vals]
                else:
                    acc = [concat(a, b) for a in acc for b in _or_unknown(vals)]
            first = False
        return [_normal(a) for a in acc][:_MAX_VALUES] if not first else []

    def _call(self, node: ast.Call, depth: int) -> list[PathValue]:
        func = node.func
        if isinstance(func, ast.Attribute):
            op = self.rules.methods.get(func.attr)
            if op is not None:
                receivers = [v for v in self.values(func.value, depth) if v.obj]
                if receivers:
                    return self._method(op, receivers, node, depth)
            if func.attr == "format" and isinstance(func.value, ast.Constant):
                return self._format(func.value, node, depth)
        names = self.qnames(func)
        for q in names:
            if q in self.rules.env_calls:
                pos, arg = self.rules.env_calls[q]
                default = argument(node, pos, arg)
                key = self.const_str(node.args[0]) if node.args else None
                return self._env(key, default, default is not None, depth)
            op = self.rules.values.get(q)
            if op is not None:
                return self._operation(op, q, node, depth)
        if isinstance(func, ast.Name) and not names:
            return self._local_function(func, depth)
        return []

    def _local_function(self, func: ast.Name, depth: int) -> list[PathValue]:
        """What a module-level function of this module returns, when its return values do not
        depend on its arguments: ``def data_dir(): return Path(os.getenv("HOME")) / "data"``."""
        if self._functions is None:
            self._functions = {}
            for stmt in self.tree.body:
                if isinstance(stmt, ast.FunctionDef):  # an async one returns a coroutine
                    self._functions[stmt.name] = stmt
        fn = self._functions.get(func.id)
        ref = self.by_node.get(id(func))
        if fn is None or ref is None:
            return []
        own = self.index.module.bindings.get(func.id, [])
        reaching = self.index.reaching_bindings(ref.scope, func.id, ref.order, ref.path)
        if len(own) != 1 or reaching != own:
            return []  # rebound, or shadowed where it is called
        out: list[PathValue] = []
        for ret in _returns(fn.body):
            if ret.value is not None:
                out.extend(self.values(ret.value, depth))
        return out

    def _method(
        self, op: str, receivers: list[PathValue], node: ast.Call, depth: int
    ) -> list[PathValue]:
        if op == "same":
            return receivers
        if op == "expanduser":
            return [self._expanduser(v) for v in receivers]
        if op == "join":
            out = receivers
            for a in node.args:
                vals = self.values(a, depth)
                out = [join(x, y, True) for x in out for y in _or_unknown(vals)]
            return out[:_MAX_VALUES]
        arg = self.const_str(node.args[0]) if node.args else None
        out = []
        for v in receivers:
            if not v.exact:
                out.append(v)
                continue
            if arg is None:
                if op == "suffix":
                    out.append(replace(v, more=MORE_CHARS))
                else:
                    p = parent(v, self.places.code_root)
                    if p is not None:
                        out.append(replace(p, more=MORE_PARTS))
                continue
            head, base = posixpath.split(v.text)
            if op == "suffix":
                stem = base[: base.rfind(".")] if "." in base[1:] else base
                base = stem + arg
            elif op == "name":
                base = arg
            elif op == "stem":
                suffix = base[base.rfind(".") :] if "." in base[1:] else ""
                base = arg + suffix
            out.append(replace(v, text=posixpath.join(head, base)))
        return out

    def _expanduser(self, v: PathValue) -> PathValue:
        home = self.places.env.get("HOME", ("/root", None))[0] or "/root"
        if v.text == "~" or v.text.startswith("~/"):
            return _normal(replace(v, text=home + v.text[1:], via="~", literal=None))
        return v

    def _format(self, template: ast.Constant, node: ast.Call, depth: int) -> list[PathValue]:
        text = template.value
        if not isinstance(text, str):
            return []
        pieces: list[Any] = []
        pos = 0
        auto = 0
        for m in _FIELD.finditer(text):
            pieces.append(text[pos : m.start()])
            field = m.group(1).split("!")[0].split(":")[0]
            if field == "":
                pieces.append(node.args[auto] if auto < len(node.args) else None)
                auto += 1
            elif field.isdigit():
                i = int(field)
                pieces.append(node.args[i] if i < len(node.args) else None)
            else:
                pieces.append(argument(node, None, field))
            pos = m.end()
        pieces.append(text[pos:])
        return self._pieces(template, pieces, depth)

    def _operation(self, op: str, qname: str, node: ast.Call, depth: int) -> list[PathValue]:
        args = node.args
        if any(isinstance(a, ast.Starred) for a in args):
            return []
        if op in ("path", "join"):
            if not args:
                return [PathValue(".", obj=True)] if op == "path" else []
            out = [replace(v, obj=op == "path") for v in self.values(args[0], depth)]
            for a in args[1:]:
                vals = self.values(a, depth)
                out = [join(x, y, op == "path") for x in out for y in _or_unknown(vals)]
            return out[:_MAX_VALUES]
        if op == "cwd":
            return [PathValue(".", via="the working directory", obj=qname.startswith("pathlib."))]
        if op == "home":
            return [PathValue(self.places.roots.get("HOME", "/root"), obj=True, via="Path.home()")]
        if op == "tempdir":
            return [PathValue(self.places.roots.get("TMP", "/tmp"), via="tempfile.gettempdir()")]
        if op in ("mkdtemp", "tempfile", "tempdir_object"):
            pos, arg = self.rules.dirs.get(qname, (None, "dir"))
            where = argument(node, pos, arg)
            if where is None or self.is_none(where):
                bases = [PathValue(self.places.roots.get("TMP", "/tmp"), via="tempfile")]
            else:
                bases = self.values(where, depth)
            kind = "path" if op == "mkdtemp" else op
            return [replace(b, more=MORE_PARTS, kind=kind, obj=False) for b in bases]
        first = self.values(args[0], depth) if args else []
        if op == "same":
            return [replace(v, obj=False) for v in first]
        if op == "expanduser":
            return [replace(self._expanduser(v), obj=False) for v in first]
        if op == "expandvars":
            return [self._expandvars(v) for v in first]
        if op == "dirname":
            out = []
            for v in first:
                p = parent(replace(v, obj=True), self.places.code_root)
                if p is not None:
                    out.append(replace(p, obj=False))
            return out
        if op == "basename":
            return [PathValue(v.basename()) for v in first if v.basename()]
        return []

    def _expandvars(self, v: PathValue) -> PathValue:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            value = self.places.env.get(name, ("", None))[0]
            return value or m.group(0)

        text = re.sub(r"\$(?:\{(\w+)\}|(\w+))", sub, v.text)
        return _normal(replace(v, text=text, obj=False)) if text != v.text else v


def _returns(body: list[ast.stmt]) -> list[ast.Return]:
    """The return statements of a function body, not those of nested functions or classes."""
    out: list[ast.Return] = []
    stack = list(body)
    while stack:
        s = stack.pop()
        if isinstance(s, ast.Return):
            out.append(s)
        elif not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for child in children(s):
                if isinstance(child, ast.stmt):
                    stack.append(child)
                elif isinstance(child, ast.excepthandler) or type(child).__name__ == "match_case":
                    stack.extend(c for c in children(child) if isinstance(c, ast.stmt))
    return out


def _or_unknown(values: list[PathValue]) -> list[Optional[PathValue]]:
    """The values, or one unknown part (None) when there are none."""
    return list(values) if values else [None]


def file_place(file: str, code_dir: Optional[str]) -> Optional[str]:
    """The file's path relative to the code dir ("/" separators), None when not inside it."""
    if not code_dir or not file:
        return None
    try:
        rel = os.path.relpath(os.path.realpath(file), code_dir)
    except ValueError:
        return None
    if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        return None
    return rel.replace(os.sep, "/")


def source_text(lines: list[str], node: ast.expr) -> str:
    """The source text of ``node`` (ast.get_source_segment splits the whole file each time)."""
    line, end = node.lineno, node.end_lineno or node.lineno
    col, end_col = node.col_offset, node.end_col_offset
    if end_col is None or end > len(lines):
        return ast.unparse(node)
    if line == end:
        return lines[line - 1].encode()[col:end_col].decode("utf-8", "replace")
    parts = [lines[line - 1].encode()[col:].decode("utf-8", "replace")]
    parts.extend(lines[line : end - 1])
    parts.append(lines[end - 1].encode()[:end_col].decode("utf-8", "replace"))
    return "\n".join(parts)
