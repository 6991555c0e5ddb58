"""MSE506: syntax and standard-library APIs newer than the enclave's Python.

One module per job:

- :mod:`.syntax`: syntax on the stdlib ``ast`` when the running interpreter parses the file
  (``match``, ``except*``, PEP 695, PEP 701 f-strings...);
- :mod:`.unparsable`: syntax on libcst when it does not but a newer Python would (called by the
  engine instead of reporting MSE001);
- :mod:`.text`: the text scanners the syntax pass and its prefilter use (f-strings, stars);
- :mod:`.reach` and :mod:`.api`: stdlib additions (rules/compat.toml ``[additions]``): which
  files can reach one, then the references the scope index resolves to one (imports, attribute
  chains, keyword parameters of calls), minus those :mod:`.guards` covers;
- :mod:`.runtime_types`: PEP 604 unions and PEP 585 generics where Python evaluates them;
- :mod:`.data`: rules/compat.toml indexed, the records, source positions;
- :mod:`.check`: the check class that runs the passes on a file.

The registry (mse_lint.checks) finds the family's class here, as for a one-module family.
"""

from mse_lint.checks.compat.check import CompatCheck

__all__ = ["CompatCheck"]
