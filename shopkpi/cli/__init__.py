"""The `shopkpi` command line (SPEC §5). `main` assembles the commands; each module is one group of them."""

from shopkpi.cli.main import app, main

__all__ = ["app", "main"]
