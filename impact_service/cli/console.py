"""The terminals the CLI writes to: results on stdout, errors on stderr (160 columns when piped)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TypeAlias

from rich.console import Console

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "Subcommands", "console", "errors"]

console = Console(width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

# what ``ArgumentParser.add_subparsers`` returns (argparse names this public type privately): each
# command module registers its commands on it
if TYPE_CHECKING:
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]  # noqa: SLF001
else:
    Subcommands = argparse._SubParsersAction  # noqa: SLF001
