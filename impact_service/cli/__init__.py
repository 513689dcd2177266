"""The ``gridimpact`` command line.

- ``engine``: studies and grids in this process (``run``, ``grids``, ``grid``, ``buses``, ``validate``, ``schema``);
- ``stack``: the service's processes (``db``, ``keys``, ``api``, ``worker``, ``beat``, ``up``, ``demo``);
- ``remote``: a running service over HTTP (``submit``, ``status``, ``wait``, ``result``, ``report``, ``cancel``);
- ``tables`` / ``environment``: a result as terminal tables; ``console``: where output goes.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from impact_service.cli.console import EXIT_INTERRUPTED, errors
from impact_service.cli.engine import add_engine_commands
from impact_service.cli.remote import add_client_commands
from impact_service.cli.stack import add_stack_commands
from impact_service.client import ApiError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="gridimpact", description="Grid and environmental impact studies of large AI computing loads."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    add_engine_commands(sub)
    add_stack_commands(sub)
    add_client_commands(sub)
    return parser


def _details(details: object) -> list[str]:
    """An API error's listed problems (an upload's 422), one line each."""
    items = details.get("issues", details) if isinstance(details, dict) else details
    if not isinstance(items, list):
        return []
    return [_line(item) for item in items]


def _line(item: object) -> str:
    if isinstance(item, dict):
        return ", ".join(f"{key}: {value}" for key, value in item.items() if value not in (None, ""))
    return str(item)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gridimpact`` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    from grid_models.errors import GridModelError

    try:
        code: int = args.handler(args)
    except GridModelError as exc:
        errors.print(f"[red]error ({exc.code}):[/red] {exc.message}")
        return 1
    except ApiError as exc:
        errors.print(f"[red]error {exc.status} ({exc.code}):[/red] {exc.message}")
        for detail in _details(exc.details):
            errors.print(f"  - {detail}", markup=False, highlight=False)
        return 1
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/yellow]")
        return EXIT_INTERRUPTED
    return code
