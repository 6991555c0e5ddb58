"""The command line: the console script's fast path, the typer application for everything else,
and the ``check`` command that ties settings, the pipeline and a reporter together."""
