"""The tree pass of MSE201, MSE203 and MSE204: one walk over a file's nodes binds each string
literal to the name it is assigned to, keyed by, passed as or formatted under (assignments,
attributes, subscripts with a literal key, dict keys, keyword arguments, parameter defaults,
comparisons, ``x.get("key", default)``-style calls, command lines and templates), or to the call
it is passed to; then the judges (mse_lint.checks.secret_judges) decide, and the findings are
placed on the secret's own characters in the source."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from typing import Any, Optional, Union

from mse_lint.checks import FileContext, LazyPattern
from mse_lint.checks.secret_judges import SecretJudge
from mse_lint.core.diagnostics import Diagnostic, Span
from mse_lint.core.record import Mutable
from mse_lint.core.redact import redact

_QUOTE = re.compile(r"([rRbBuUfF]{0,2})('''|\"\"\"|'|\")")
_OPTION = re.compile(r"--?[A-Za-z][\w-]*")

StrNode = Union[ast.Constant, ast.JoinedStr]


def string_value(node: ast.AST) -> Optional[str]:
    """The text of a str or bytes literal (bytes read as latin-1), else None."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            return node.value
        if isinstance(node.value, bytes):
            return node.value.decode("latin-1")
    return None


class _Bound(Mutable):
    node: StrNode
    name: str  # the name MSE201 judges ("" when only passed to a call)
    shown: str  # the name as messages show it (self.password)
    context: tuple[str, ...]  # names that qualify the value (MSE204): target, callee
    secret_name: bool  # MSE201 judges it
    construct: str = ""  # how it is bound, when not by a name (a key of [secret_values.constructs])
    at: int = 0  # where the value starts in the literal ("--password=...")


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


def tree_identifiers(nodes: Iterable[ast.AST]) -> frozenset[str]:
    """The identifiers a literal can be bound to: names, attributes, keywords, parameters."""
    field = _IDENTIFIER_FIELDS.get
    found = {getattr(n, f) for n in nodes if (f := field(type(n))) is not None}
    found.discard(None)  # **kwargs
    return frozenset(found)


class SecretPass:
    """One walk over a file's tree: collect the bound literals, check URLs on the way."""

    def __init__(self, check: SecretJudge, ctx: FileContext, secrets_only: bool = False) -> None:
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
            template = string_value(func.value)
            if template is not None and "{" in template:
                self.visit_format(node, template)
        callee = _callee(func)
        last = callee.rsplit(".", 1)[-1]
        for kw in node.keywords:
            if kw.arg:
                self.bind(kw.value, kw.arg, (callee,))
        args = node.args
        key = string_value(args[0]) if args else None
        if key is not None:
            if last in self.c.data.key_value_calls and len(args) >= 2:
                self.bind(args[1], key, (callee,))  # os.getenv("DB_PASSWORD", "...")
            elif _OPTION.fullmatch(key):  # parser.add_argument("--password", default="...")
                for kw in node.keywords:
                    if kw.arg == "default":
                        self.bind(kw.value, key.lstrip("-"), (callee,))
        index = self.c.data.password_args.get(last)
        if index is not None and len(args) > index:
            self.bind(args[index], "password", (callee,), f"{callee}()")  # smtp.login(u, "...")
        if last in self.c.data.attribute_value_calls and len(args) >= 3:
            attr = string_value(args[1])
            if attr is not None:
                self.bind(args[2], attr, (callee,))  # setattr(cfg, "password", "...")
        strings = [] if self.secrets_only else [a for a in args if _is_string(a)]
        if strings:
            # the other short strings of the call qualify each one: check("md5", b"", "d41d...")
            words = tuple(
                v for v in (string_value(a) for a in strings) if v is not None and len(v) <= 24
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
                return string_value(node.args[0]) or ""  # headers.get("X-Api-Key") == "..."
            return ""
        return self.target_name(node)

    def visit_fstring(self, node: ast.JoinedStr) -> None:
        prefix = ""  # the constant text since the previous field
        for part in node.values:
            text = string_value(part)
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
            m = self.c.data.argv_option.fullmatch(text)
            if m is not None:
                name = m.group("name")
                shown = text[: m.start("value") - 1]
                self.bind_construct(elt, name, shown, "argv_value", m.start("value"))
                continue
            m = self.c.data.argv_long.fullmatch(text)
            if m is None or i + 1 >= len(elts) or self.c.option_takes_no_value(m.group("name")):
                continue
            after = elts[i + 1]
            value = string_value(after)
            if value is not None and not value.startswith("-"):
                self.bind_construct(after, m.group("name"), text, "argv_next")

    def visit_binop(self, node: ast.BinOp) -> None:
        """``"password=%s" % "..."``, ``"user=%s password=%s" % ("app", "...")``."""
        if not isinstance(node.op, ast.Mod):
            return
        template = string_value(node.left)
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
            text = string_value(node)
            if text is not None and "://" in text:
                self.urls(node, text, exact=True)

    # -- MSE201 ----------------------------------------------------------------------------------
    def judge_secret(self, b: _Bound) -> None:
        node = b.node
        value = string_value(node)
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
                construct=self.c.data.constructs.get(b.construct, "") if b.construct else "",
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
        value = string_value(node)
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


# Compiled when a file first has a % template with a literal argument.
_PERCENT = LazyPattern(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?[hlL]?"
    r"(?P<conv>[diouxXeEfFgGcrsa%])"
)
# where a % or a { placeholder may start (the file gate's template_keys)


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
