"""`python -m jobs.cli`: the `gridlake` command line (all commands), as the console script runs it."""

from jobs.cli import app

app()
