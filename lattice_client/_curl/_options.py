"""``lattice-curl``'s command line: the options, their checks, and the -H headers.

`_parser` builds the argparse parser (its help text is the command's ``--help``);
`_check_usage` refuses, as a usage error, what argparse cannot see (a URL without a
valid host, contradicting options, a header that would split the request); `_headers`
turns the -H options into the headers to send and the default ones to remove.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any

from lattice_client._lattice import ANY_REGION, SIGNING_NAME

from ._errors import _EXIT_HELP, PROG

_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+)+-\d+")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9-]*")
# RFC 9110 token: what a header name or a method is made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# What no header may hold: it would split the request (header injection).
_LINE_BREAK = re.compile(r"[\r\n\x00]")
# The longest -m / --connect-timeout: a year; the interval timer cannot take inf.
_MAX_SECONDS = 365 * 24 * 3600
# A host (name, IPv4 or bracketed IPv6) and an optional port, as httpx puts it on the wire.
_NETLOC = re.compile(r"(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def _region(value: str) -> str:
    if not _REGION.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an AWS region such as us-west-2")
    return value


def _service(value: str) -> str:
    if not _SERVICE.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a signing name such as {SIGNING_NAME}")
    return value


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < seconds <= _MAX_SECONDS:  # inf would overflow the timer; nan is no time
        raise argparse.ArgumentTypeError(
            f"{value!r}: give a number of seconds above 0 and up to {_MAX_SECONDS}"
        )
    return seconds


def _count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if count < 0:
        raise argparse.ArgumentTypeError(f"{value!r}: give 0 or more")
    return count


class _DataAction(argparse.Action):
    """Collects -d, --data-binary and --data-raw as (kind, value) in command-line order."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, "data", nargs=None, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        namespace.data = [*namespace.data, (self.const, values)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage="%(prog)s [options] URL",
        description=(
            "Send one HTTP request to an Amazon VPC Lattice service, signed with SigV4 or\n"
            "SigV4A (x-amz-content-sha256: UNSIGNED-PAYLOAD), with curl's options. The body\n"
            "goes to stdout (or -o FILE); -v, errors and progress go to stderr. Credentials\n"
            "come from the environment, the default profile chain, or --profile."
        ),
        epilog=_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("url", metavar="URL", help="http:// or https:// URL of the service")
    request = parser.add_argument_group("request")
    request.add_argument("-X", "--request", metavar="METHOD", help="HTTP method (default: GET)")
    request.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="add a header (repeatable); 'NAME:' removes a default one, 'NAME;' sends it empty",
    )
    request.add_argument(
        "-d",
        "--data",
        action=_DataAction,
        const="data",
        metavar="DATA",
        help="POST DATA (repeatable, joined with &); @FILE reads FILE without its newlines",
    )
    request.add_argument(
        "--data-binary",
        action=_DataAction,
        const="binary",
        metavar="DATA",
        help="POST DATA as is; @FILE sends FILE's bytes unchanged, streamed (@- for stdin)",
    )
    request.add_argument(
        "--data-raw", action=_DataAction, const="raw", metavar="DATA", help="like -d, @ not special"
    )
    parser.set_defaults(data=[])
    request.add_argument(
        "-T",
        "--upload-file",
        metavar="FILE",
        help="PUT FILE's bytes, streamed as they are read; '-' reads stdin",
    )
    request.add_argument(
        "-A",
        "--user-agent",
        metavar="NAME",
        help="User-Agent to send (default: lattice-curl/VERSION)",
    )
    request.add_argument(
        "--compressed", action="store_true", help="ask for a compressed answer and decompress it"
    )
    output = parser.add_argument_group("output")
    output.add_argument("-o", "--output", metavar="FILE", help="write the body to FILE")
    output.add_argument(
        "-i", "--include", action="store_true", help="write the response headers before the body"
    )
    output.add_argument(
        "-I", "--head", action="store_true", help="send HEAD and write the response headers only"
    )
    output.add_argument(
        "-f",
        "--fail",
        action="store_true",
        help="on an HTTP error write nothing and exit 22 (44 for 404); see exit codes",
    )
    output.add_argument(
        "-s", "--silent", action="store_true", help="no progress meter, no error messages"
    )
    output.add_argument(
        "-S", "--show-error", action="store_true", help="with -s, still show error messages"
    )
    output.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the request and response headers, the canonical request and the string "
        "to sign on stderr (token and signature redacted)",
    )
    connection = parser.add_argument_group("connection")
    connection.add_argument(
        "-L", "--location", action="store_true", help="follow redirects (each hop signed anew)"
    )
    connection.add_argument(
        "--max-redirs",
        type=_count,
        default=50,
        metavar="N",
        help="with -L, at most N (default: 50)",
    )
    version = connection.add_mutually_exclusive_group()
    version.add_argument(
        "--http1.1", dest="http1_1", action="store_true", help="use HTTP/1.1 only (the default)"
    )
    version.add_argument(
        "--http2", action="store_true", help="offer HTTP/2 over TLS (ALPN), else HTTP/1.1"
    )
    version.add_argument(
        "--http2-prior-knowledge", action="store_true", help="HTTP/2 only, also over http://"
    )
    connection.add_argument(
        "--connect-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up connecting after SECONDS (default: -m's value, else 300)",
    )
    connection.add_argument(
        "-m",
        "--max-time",
        type=_seconds,
        metavar="SECONDS",
        help="give up the whole transfer after SECONDS (default: no limit)",
    )
    connection.add_argument(
        "-k", "--insecure", action="store_true", help="do not verify the server's certificate"
    )
    connection.add_argument(
        "--cacert", metavar="FILE", help="trust the CA certificates in FILE (PEM)"
    )
    signing = parser.add_argument_group("signing")
    signing.add_argument(
        "--region",
        type=_region,
        help="region to sign for (default: from a generated Lattice name, AWS_REGION, the profile)",
    )
    signing.add_argument(
        "--sigv4a", action="store_true", help="sign with SigV4A (needs vpc-lattice-client[crt])"
    )
    signing.add_argument(
        "--region-set",
        default=ANY_REGION,
        metavar="REGIONS",
        help="with --sigv4a, the regions the signature is good for (default: *)",
    )
    signing.add_argument("--profile", help="credentials and region from this AWS profile")
    signing.add_argument(
        "--role-arn",
        metavar="ARN",
        help="sign as this IAM role, assumed through STS with the credentials found "
        "(default: sign with those credentials)",
    )
    signing.add_argument(
        "--role-session-name",
        metavar="NAME",
        help="with --role-arn, the role session's name (default: lattice-client-<unix time>)",
    )
    signing.add_argument(
        "--external-id",
        metavar="ID",
        help="with --role-arn, the external id the role's trust policy requires (default: none)",
    )
    signing.add_argument(
        "--service",
        type=_service,
        default=SIGNING_NAME,
        help=f"signing name (default: {SIGNING_NAME})",
    )
    from lattice_client import __version__

    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    return parser


def _check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not args.url.lower().startswith(("http://", "https://")):
        parser.error(f"URL must start with http:// or https://, not {args.url!r}")
    import httpx

    try:
        url = httpx.URL(args.url)
        netloc = url.netloc.decode("ascii")
        url.host  # noqa: B018 -- decodes an IDNA name ("xn--..."), which may fail
    except httpx.InvalidURL as exc:
        parser.error(f"the URL {args.url!r} is not valid: {exc}")
    except UnicodeError:  # idna.IDNAError: "http://xn--.com/"
        parser.error(f"the URL {args.url!r} has a host that is not a valid IDNA name")
    if not _NETLOC.fullmatch(netloc):
        parser.error(f"the URL {args.url!r} has no valid host")
    data = args.data
    if args.upload_file is not None and data:
        parser.error("-T/--upload-file and -d/--data* both give a body: use one")
    if args.head and (data or args.upload_file is not None):
        parser.error("-I/--head sends HEAD, which has no body: drop -d/--data*/-T")
    if args.insecure and args.cacert:
        parser.error("-k/--insecure and --cacert contradict each other: use one")
    if args.region_set != ANY_REGION and not args.sigv4a:
        parser.error("--region-set only applies with --sigv4a")
    for header in args.header:
        name, sep, _ = header.partition(":")
        if not sep and not header.endswith(";"):
            parser.error(f"-H takes 'Name: value', 'Name:' or 'Name;', not {header!r}")
        name = name.strip() if sep else header[:-1].strip()
        if not _TOKEN.fullmatch(name):
            parser.error(
                f"-H {header!r}: a header name is letters, digits and !#$%&'*+-.^_`|~ only"
            )
    # Named, not quoted: a header value may be a credential.
    for option, value in [*(("-H", header) for header in args.header), ("-A", args.user_agent)]:
        if value and _LINE_BREAK.search(value):
            where = f"-H {value.partition(':')[0].strip()!r}" if option == "-H" else "-A"
            parser.error(f"{where}: a header value cannot contain CR, LF or NUL; remove them")
    if args.request is not None and not _TOKEN.fullmatch(args.request):
        parser.error(f"-X takes an HTTP method such as GET or POST, not {args.request!r}")


def _headers(args: argparse.Namespace) -> tuple[list[tuple[bytes, bytes]], set[str]]:
    """The -H headers to send, and the names of default headers to remove ('Name:').

    Values go out as the bytes given on the command line (UTF-8), as curl sends them;
    the transport signs exactly those bytes.
    """
    headers: list[tuple[bytes, bytes]] = []
    removed: set[str] = set()
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep:  # "Name;": send it with an empty value
            headers.append((_utf8(header[:-1].strip()), b""))
        elif value.strip():
            headers.append((_utf8(name.strip()), _utf8(value.strip())))
        else:
            removed.add(name.strip().lower())
    return headers, removed


def _utf8(text: str) -> bytes:
    # surrogateescape: the bytes of a command-line argument that is not UTF-8, unchanged.
    return text.encode("utf-8", "surrogateescape")
