"""The `avbridge` command: thin entry points over the library (main.py), the benchmark (bench.py)
and logging set-up (logs.py)."""

from avbridge.cli.main import main

__all__ = ["main"]
