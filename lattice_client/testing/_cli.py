"""``lattice-local``: run a local Lattice in front of a URL from the command line,
or a service network of several services from a JSON file (``--network``).

Credentials are never printed: each principal's are written to an AWS shared
credentials file (mode 0600), and the command prints the environment variables
that make any AWS SDK, or lattice-client's default chain, use them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

from lattice_client._exceptions import LatticeError
from lattice_client.testing._config import Principal, Rule
from lattice_client.testing._network import LocalServiceNetwork
from lattice_client.testing._server import LocalLattice

PROFILE = "local-lattice"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lattice-local",
        description=(
            "Serve a local stand-in for an Amazon VPC Lattice service on loopback: it verifies "
            "SigV4/SigV4A signatures, applies an auth policy and forwards to TARGET with "
            "Lattice's identity headers. Access-log records go to stdout as JSON lines."
        ),
    )
    parser.add_argument("target", nargs="?", help="URL to forward to (without it: 404 for all)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--tls", action="store_true", help="HTTPS with a throwaway CA")
    parser.add_argument(
        "--region", default="us-west-2", help="the service's region (default: us-west-2)"
    )
    parser.add_argument(
        "--auth-type",
        choices=["AWS_IAM", "NONE"],
        default="AWS_IAM",
        help="AWS_IAM: verify signatures and apply the auth policy; NONE: check nothing "
        "(default: AWS_IAM)",
    )
    parser.add_argument(
        "--auth-policy", type=Path, help="auth policy JSON file (default: authenticated callers)"
    )
    parser.add_argument(
        "--principal",
        action="append",
        default=[],
        metavar="ARN",
        help="a principal to create credentials for (repeatable; default: one, "
        "arn:aws:sts::111122223333:assumed-role/caller/local-session)",
    )
    parser.add_argument(
        "--fixed-response",
        action="append",
        default=[],
        metavar="PATH=STATUS",
        help="answer requests under PATH with 404 or 500 (repeatable; default: none)",
    )
    parser.add_argument(
        "--network",
        type=Path,
        metavar="FILE",
        help="serve a service network of several services from a JSON file (see docs/testing.md)"
        " instead of one service; TARGET and the service options do not apply",
    )
    parser.add_argument(
        "--credentials-file",
        type=Path,
        help="where to write the principals' credentials (default: a private temporary file)",
    )
    return parser


def _rules(specs: Sequence[str]) -> list[Rule]:
    rules = []
    for spec in specs:
        path, _, status = spec.rpartition("=")
        if status not in ("404", "500") or not path:
            raise LatticeError(f"--fixed-response takes PATH=404 or PATH=500, not {spec!r}")
        rules.append(Rule(path, fixed_response=cast(Literal[404, 500], int(status))))
    return rules


def write_credentials(principals: Sequence[Principal], path: Path) -> list[str]:
    """Write each principal's credentials as a profile; return the profile names."""
    names: list[str] = []
    lines: list[str] = []
    for index, principal in enumerate(principals):
        name = PROFILE if index == 0 else f"{PROFILE}-{index + 1}"
        names.append(name)
        credentials = principal.credentials
        lines += [
            f"[{name}]",
            f"# {principal.arn}",
            f"aws_access_key_id = {credentials.access_key_id}",
            f"aws_secret_access_key = {credentials.secret_access_key}",
        ]
        if credentials.session_token:
            lines.append(f"aws_session_token = {credentials.session_token}")
        lines.append("")
    # A new file, created 0600 next to the destination, then renamed over it: an
    # existing file's mode is not kept, and a symlink there is replaced, not followed.
    descriptor, temporary = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write("\n".join(lines))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted (Ctrl-C or SIGTERM)."""
    args = _parser().parse_args(argv)
    try:
        principals = [Principal.generate(arn) for arn in args.principal] or [Principal.generate()]
        if args.network is not None:
            if (
                args.target
                or args.auth_policy
                or args.fixed_response
                or args.auth_type != "AWS_IAM"
            ):
                raise LatticeError(
                    "--network describes every service; drop TARGET, --auth-type, "
                    "--auth-policy and --fixed-response (put them in the file)"
                )
            lattice: LocalLattice | LocalServiceNetwork = LocalServiceNetwork.from_config(
                args.network,
                principals=principals,
                host=args.host,
                port=args.port,
                tls=args.tls,
                log_stream=sys.stdout,
            )
        else:
            lattice = LocalLattice(
                args.target,
                auth_type=args.auth_type,
                auth_policy=args.auth_policy.read_text() if args.auth_policy else None,
                principals=principals,
                rules=_rules(args.fixed_response),
                region=args.region,
                host=args.host,
                port=args.port,
                tls=args.tls,
                log_stream=sys.stdout,
            )
    except (LatticeError, OSError) as exc:
        print(f"lattice-local: {exc}", file=sys.stderr)
        return 2

    with contextlib.ExitStack() as stack:
        if args.credentials_file is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="lattice-local-"))
            credentials_file = Path(directory) / "credentials"
        else:
            credentials_file = args.credentials_file
        try:
            profiles = write_credentials(principals, credentials_file)
        except OSError as exc:
            print(f"lattice-local: cannot write {credentials_file}: {exc}", file=sys.stderr)
            return 2
        try:
            stack.enter_context(lattice)
        except OSError as exc:
            print(
                f"lattice-local: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
            )
            return 2
        info: dict[str, Any] = {"url": lattice.url, "region": lattice.region}
        if isinstance(lattice, LocalServiceNetwork):
            info["serviceNetworkArn"] = lattice.arn
            info["services"] = {
                service.name: {
                    "host": lattice.host(service.name),
                    "serviceArn": lattice.service_arn(service.name),
                    "customDomain": service.custom_domain,
                }
                for service in lattice.services
            }
        else:
            info["serviceArn"] = lattice.service_arn
        info["authType"] = lattice.auth_type
        info["principals"] = {p.arn: name for p, name in zip(principals, profiles, strict=True)}
        print(f"lattice-local: serving {json.dumps(info)}", file=sys.stderr)
        print(
            f"lattice-local: to call it, export AWS_SHARED_CREDENTIALS_FILE={credentials_file} "
            f"AWS_PROFILE={profiles[0]} AWS_REGION={lattice.region}",
            file=sys.stderr,
        )
        if lattice.ca_file:
            print(f"lattice-local: trust the CA in {lattice.ca_file}", file=sys.stderr)
        _wait_for_interrupt()
    return 0


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
