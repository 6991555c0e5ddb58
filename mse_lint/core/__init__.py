"""The bottom layer, imported by every other: value records, findings, the rule catalogue,
mse-lint's own settings, redaction of secrets, safe reads and atomic writes. Nothing here knows
about projects, source files or checks."""
