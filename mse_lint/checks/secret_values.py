"""MSE201 hardcoded-secret, MSE203 credentials-in-url, MSE204 high-entropy-string.

One pass over the tree collects every string literal that is bound to a name (assignment
targets, attributes, subscripts with a literal key, annotated assignments, dict keys, keyword
arguments, parameter defaults, comparisons, ``x.get("key", default)``-style calls) or passed to
a call. MSE201 judges the literals bound to a secret-like name on their value; MSE203 looks at
every string and bytes literal (f-string constant parts included) for ``scheme://user:pw@host``;
MSE204 measures the entropy of the bound and passed literals that neither of the others, nor the
credential formats of MSE202, report. Every word list, pattern and threshold comes from
``rules/secrets.toml``.

The family is four modules: the settings read once (secret_settings), the judges of names,
values, URLs and runs (secret_judges), the tree pass (secret_pass) and this check, which decides
from a file's literals whether the pass is worth running and runs it.

Before the pass, ``may_report`` applies to the values of the file's literals (never to their
source text, which escapes, implicit concatenation and f-string braces make differ) what each
rule needs whatever the literal is bound to: a URL with a user part, a run ``_judge_run``
takes, or a secret name anywhere in the file together with a value ``secret_part`` takes for
the loosest kind of those names. Most files stop there; when only MSE201 remains possible, the
pass binds literals to secret names only.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any, Optional

from mse_lint.checks import FileContext
from mse_lint.checks import words as file_words
from mse_lint.checks.secret_judges import SecretJudge
from mse_lint.checks.secret_pass import SecretPass, tree_identifiers
from mse_lint.core.diagnostics import Diagnostic, Span
from mse_lint.core.redact import redact

_KIND_RANK = {"weak": 1, "machine": 2, "human": 3}


class SecretValuesCheck(SecretJudge):
    """The check: the judges (inherited; mse_lint.core.redact uses them on any text) and the
    file's prefilters and tree pass."""

    codes = frozenset({"MSE201", "MSE203", "MSE204"})

    # == prefilter ===============================================================================
    def wants(self, text: str) -> bool:
        """The file has a string literal: every finding is on one. Which literals can be
        reported is decided on their values, in :meth:`may_report`: a test on the source text
        would have to see through escapes, implicit concatenation, f-string braces and
        normalised identifiers to be sure. A comment can hold a URL with a password (MSE203)."""
        return "'" in text or '"' in text or "://" in text

    def may_judge(self, text: str) -> bool:
        """The source-text gate of a run that only asks what to mask (none of this family's
        rules selected, see mse_lint.core.redact): what ``may_report`` needs, looked for in the
        source instead of the literals' values, so that most files are not parsed for it. A
        URL with a user part, a run of MSE204's characters with a digit, a secret word or a
        bigram of the names, or a callee taking a password. Literals that hold one of these
        only through escapes (``"\\x3a//"``) are not judged then."""
        if not self.wants(text):
            return False
        if "://" in text and "@" in text:
            return True
        if self.data.long_run is not None:
            digit = self.data.needs_digit
            for m in self.data.long_run.finditer(text):
                if digit is None or digit(m.group()):
                    return True
        low = text.lower()
        if any(w in low for w in self.data.min_needles):
            return True
        if self.data.bigram_tail is not None and self.data.bigram_tail.search(low[::-1]):
            return True
        return not self.data.password_callees.isdisjoint(file_words(text))

    def may_report(self, ctx: FileContext) -> Optional[bool]:
        """Whether one of the file's str / bytes literals could be reported, from the
        conditions of each rule that depend neither on the name nor on the call a literal is
        bound to, applied to the literals' values (f-string parts included): None when none
        can be (most files: they skip the pass), False when only MSE201 can be (the pass then
        looks only for secret names), True when MSE203 or MSE204 can be too."""
        constant = ast.Constant
        raw: list[Any] = [n.value for n in ctx.nodes if type(n) is constant]
        values = [
            v if isinstance(v, str) else v.decode("latin-1")
            for v in raw
            if isinstance(v, (str, bytes))
        ]
        if not values:
            return None
        # MSE203 (url_credentials)
        for v in values:
            if "://" in v and "@" in v:
                return True
        # MSE204: high_entropy(v, context) is None or high_entropy(v), which needs a run of v
        # with a piece _judge_run takes
        if self.data.long_run is not None:
            least = self.data.min_run
            digit = self.data.needs_digit
            for v in values:
                if len(v) >= least and (digit is None or digit(v)) and self.entropic_runs(v):
                    return True
        # MSE201: a secret name, and a value secret_part takes for a name of that kind
        kind = self._loosest_kind(ctx, values)
        if (
            kind is not None
            and (
                any(self._secret_span("", v, kind) is not None for v in values)
                or any(  # the value of an option with its value: "--password=..."
                    self._secret_span("", v.partition("=")[2], kind) is not None
                    for v in values
                    if v[:1] == "-" and "=" in v
                )
            )
        ):
            return False
        return None

    def _loosest_kind(self, ctx: FileContext, values: list[str]) -> Optional[str]:
        """The kind (see name_kind) of the file's secret names that lets most values through,
        or None when it has none. A literal is bound to an identifier (a target, keyword,
        parameter, callee taking a password) or to a string literal (a dict or subscript key,
        ``getenv("...")``, an option string)."""
        text = ctx.source
        if text.isascii():  # each identifier is a maximal run of word characters of the text
            identifiers: frozenset[str] = file_words(text)
        else:  # identifiers are NFKC-normalised: take them from the tree
            identifiers = tree_identifiers(ctx.nodes)
        best: Optional[str] = None
        if not self.data.password_callees.isdisjoint(identifiers):
            best = self.name_kind("password")  # smtp.login(user, "...")
        names = [*identifiers]
        odd: list[str] = []  # names with a line break: not in the one-name-a-line text of _hinted
        long_templates: list[str] = []
        for v in values:
            if len(v) <= 80:  # longer ones are never secret names
                if not v.startswith("-"):
                    (odd if "\n" in v else names).append(v)
                    continue
                for name in (v, v.lstrip("-")):
                    (odd if "\n" in name else names).append(name)
                if "=" in v:  # ["mysql", "--password=..."]
                    names.append(v.lstrip("-").partition("=")[0])
            elif "%" in v or "{" in v:
                long_templates.append(v.replace("\n", " "))
        hinted = self._hinted(names)
        if long_templates:
            hinted += self._hinted(long_templates)
        # "password=%s" % "...": the names a template gives hold a secret word only when the
        # template does, so only the templates _hinted keeps are read
        keys = [
            key
            for template in [*odd, *hinted]
            if "%" in template or "{" in template
            for key in self.template_keys(template)
        ]
        for name in [*odd, *hinted, *keys]:
            kind = self.name_kind(name)
            if kind is not None and (best is None or _KIND_RANK[kind] > _KIND_RANK[best]):
                best = kind
                if kind == "human":
                    break
        return best

    def _hinted(self, names: list[str]) -> list[str]:
        """The ``names`` (none holding a line break) that may be secret names. name_kind finds
        a secret word, a weak last word or a bigram among the ASCII words of a name (letters
        and digits; anything else separates them), lower-cased: the others have no secret word
        in their lower case, and no bigram's words one after the other with only separators
        between them."""
        joined = "\n".join(names)
        if "\u0130" in joined or "\u212a" in joined:
            return names  # the two characters whose lower case holds an ASCII letter
        low = joined.lower()
        hits: list[int] = []
        for word in self.data.min_needles:
            at = low.find(word)
            while at >= 0:
                hits.append(at)
                at = low.find(word, at + 1)
        if self.data.bigram_tail is not None:
            # a bigram whose second word holds no needle: its words, backwards
            back = low[::-1]
            end = len(low)
            hits.extend(end - m.end() for m in self.data.bigram_tail.finditer(back))
        if not hits:
            return []
        lines = {low.count("\n", 0, at) for at in hits}
        return [names[i] for i in sorted(lines)]

    # == the pass ================================================================================
    def run(self, ctx: FileContext) -> Iterable[Diagnostic]:
        possible = self.may_report(ctx)
        out = [] if possible is None else SecretPass(self, ctx, secrets_only=not possible).run()
        in_comments = self.comment_urls(ctx)
        if in_comments:
            out = sorted([*out, *in_comments], key=lambda d: (d.span, d.rule))
        return out

    def comment_urls(self, ctx: FileContext) -> list[Diagnostic]:
        """MSE203 for the URLs with a password in comments: comments ship with the code. The
        file is tokenized only when a line has such a URL after a ``#``, which few files have."""
        text = ctx.source
        if "#" not in text or "@" not in text:
            return []
        lines: set[int] = set()
        at = text.find("://")
        while at >= 0:
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            end = len(text) if end < 0 else end
            hash_at = text.find("#", start, at)
            if hash_at >= 0 and self.url_credentials(text[hash_at:end]):
                lines.add(text.count("\n", 0, at) + 1)
            at = text.find("://", end)
        if not lines:
            return []
        import io
        import tokenize

        out = []
        try:
            for tok in tokenize.generate_tokens(io.StringIO(text).readline):
                if tok.type != tokenize.COMMENT or tok.start[0] not in lines:
                    continue
                line, col = tok.start  # tokenize's columns are characters
                for cred in self.url_credentials(tok.string):
                    pw = tok.string[cred.start : cred.end]
                    first = col + cred.start  # 0-based
                    out.append(
                        ctx.diagnostic(
                            "MSE203",
                            ctx.tree,
                            None,
                            user=cred.user or "(none)",
                            value=redact(pw),
                            _secret=True,
                            _span=Span(line, first + 1, line, first + 1 + len(pw)),
                        )
                    )
        except (tokenize.TokenError, SyntaxError, IndentationError):  # pragma: no cover
            return out
        return out
