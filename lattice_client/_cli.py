"""``lattice-client``: the command line. ``lattice-client quickstart`` runs the demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._exceptions import MissingDependencyError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lattice-client", description="Call Amazon VPC Lattice services from Python."
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="what to do: quickstart"
    )
    commands.add_parser(
        "quickstart",
        help="start a local Lattice and a demo service in-process and make signed calls",
        description=(
            "Start a local Lattice (lattice_client.testing) in front of a demo service, "
            "call it with the sync and async clients and over gRPC, make one call that is "
            "denied, and print what the service saw. Needs no AWS account or network."
        ),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lattice-client`` command."""
    args = _parser().parse_args(argv)
    if args.command == "quickstart":
        try:
            from .testing._quickstart import run
        except ImportError as exc:
            error = MissingDependencyError(
                "lattice-client quickstart", extra="testing", module=exc.name or "hypercorn"
            )
            print(f"lattice-client: {error}", file=sys.stderr)
            return 2
        return run()
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
