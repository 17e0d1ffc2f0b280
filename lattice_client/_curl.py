"""``lattice-curl``: curl's habits, with every request signed for Lattice.

The request goes through `lattice_client.Client`, so each hop (``-L``) is signed
anew as it is sent and a hop to another host goes unsigned. ``-v`` reads the
request as it goes on the wire through httpx's ``trace`` extension, then
recomputes the canonical request and the string to sign with the signing core
from what was sent (``sign_request`` is pure), so what it prints is what the
signature covers. Bodies stream both ways: an upload is read in chunks as it is
sent (``UNSIGNED-PAYLOAD``: nothing hashes it), a download is written as it
arrives.

Exit codes (also in ``--help`` and docs/curl.md) live in `ExitCode`, and the
mapping from exceptions to them in `_exit_codes`: one table.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import os
import re
import signal
import ssl
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TextIO

from ._credentials import Credentials, CredentialsLike, CredentialsSource
from ._exceptions import (
    AccessDeniedError,
    BodyNotReplayableError,
    ConfigurationError,
    CredentialsError,
    LatticeError,
    LatticeResponseError,
    MissingDependencyError,
    NoRegionError,
    NotFoundError,
    ServiceNameNotResolvedError,
    SignatureError,
    SigningError,
)
from ._lattice import ANY_REGION, SIGNING_NAME, region_from_host
from ._policy import resolve_region

if TYPE_CHECKING:
    import httpx

__all__ = ["ExitCode", "main"]

PROG = "lattice-curl"
# Bytes read from an upload source per chunk: small enough that memory stays flat.
_CHUNK = 64 * 1024
# The progress meter appears once a transfer has moved this much (short ones stay quiet).
_PROGRESS_AFTER = 1024 * 1024
_PROGRESS_INTERVAL = 0.25
# curl's default: give up connecting after 300 s; no limit on the transfer itself.
_DEFAULT_CONNECT_TIMEOUT = 300.0
_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+)+-\d+")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9-]*")
_AUTHORIZATION = re.compile(
    r"(?P<algorithm>AWS4-[A-Z0-9-]+) Credential=(?P<key>[^/]+)/(?P<scope>[^,]+),"
    r" *SignedHeaders=[^,]+, *Signature=[0-9a-f]+"
)
# RFC 9110 token: what a header name or a method is made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# What no header may hold: it would split the request (header injection).
_LINE_BREAK = re.compile(r"[\r\n\x00]")
# The longest -m / --connect-timeout: a year; the interval timer cannot take inf.
_MAX_SECONDS = 365 * 24 * 3600
# A host (name, IPv4 or bracketed IPv6) and an optional port, as httpx puts it on the wire.
_NETLOC = re.compile(r"(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
_SIGNATURE_VALUE = re.compile(r"(Signature=)[0-9a-fA-F]+")
# Request headers whose values -v never shows.
_SECRET_HEADERS = frozenset({"x-amz-security-token", "proxy-authorization", "cookie"})


class ExitCode(enum.IntEnum):
    """What ``lattice-curl``'s exit status means; curl's numbers where curl has one."""

    OK = 0
    USAGE = 2
    RESOLVE = 6
    TRANSPORT = 7
    HTTP_ERROR = 22
    WRITE_ERROR = 23
    READ_ERROR = 26
    TIMEOUT = 28
    CREDENTIALS = 41
    SIGNATURE = 42
    ACCESS_DENIED = 43
    NOT_FOUND = 44
    TOO_MANY_REDIRECTS = 47
    INTERRUPTED = 130


_EXIT_HELP = """\
exit codes:
   0  done (any HTTP status, unless --fail; Lattice's own refusals excepted)
   2  usage error: a bad option, URL, header or region; a missing optional extra
   6  could not resolve the host (a generated Lattice name outside its VPCs, a typo)
   7  transport error: cannot connect, TLS failure, connection reset
  22  --fail and an HTTP error other than 404
  23  cannot write the output (-o file, stdout)
  26  cannot read the input (-T file, --data @file)
  28  timeout (--connect-timeout, -m/--max-time)
  41  credentials: none found, unknown --profile, expired, refresh failed
  42  Lattice refused the signature (InvalidSignature, IncompleteSignature, expired)
  43  Lattice denied access (AccessDeniedException: an auth policy or IAM)
  44  --fail and 404 Not Found
  47  too many redirects (-L, --max-redirs)
 130  interrupted (Ctrl-C)
"""


class _Failure(Exception):
    """An error to report on stderr and exit with; the message says what to fix."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class _MaxTimeExceeded(BaseException):
    """-m/--max-time ran out.

    Raised from a signal handler, anywhere: a BaseException, like KeyboardInterrupt,
    so that no ``except Exception`` on the way (httpx's, ours) can swallow it.
    """


# -- command line ---------------------------------------------------------------------------


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
    from . import __version__

    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    return parser


@dataclass
class _Body:
    """What to send: bytes in memory, or a binary stream read chunk by chunk."""

    content: bytes | None = None
    stream: BinaryIO | None = None
    length: int | None = None  # for a stream: its size when known (a regular file)
    form: bool = False  # -d and --data-*: curl's default Content-Type


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


def _body(args: argparse.Namespace) -> _Body | None:
    """The request body from -T or -d/--data-*, in command-line order; None when there is none."""
    if args.upload_file is not None:
        return _stream_body(args.upload_file)
    parts: list[tuple[str, str]] = args.data
    if not parts:
        return None
    if len(parts) == 1 and parts[0][0] == "binary" and parts[0][1].startswith("@"):
        # One --data-binary @FILE: stream it, as for -T.
        body = _stream_body(parts[0][1][1:])
        body.form = True
        return body
    pieces: list[bytes] = []
    for kind, value in parts:
        if kind == "raw" or not value.startswith("@"):
            pieces.append(_utf8(value))
            continue
        content = _read_all(value[1:])
        if kind == "data":  # curl's -d @file drops carriage returns and newlines
            content = content.replace(b"\r", b"").replace(b"\n", b"")
        pieces.append(content)
    return _Body(content=b"&".join(pieces), form=True)


def _stream_body(path: str) -> _Body:
    if path == "-":
        return _Body(stream=sys.stdin.buffer)
    try:
        file = open(path, "rb")  # noqa: SIM115 -- closed by main() once sent
        info = os.fstat(file.fileno())
    except OSError as exc:
        raise _Failure(ExitCode.READ_ERROR, f"cannot read {path!r}: {exc.strerror}") from None
    import stat

    length = info.st_size if stat.S_ISREG(info.st_mode) else None
    return _Body(stream=file, length=length)


def _read_all(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise _Failure(ExitCode.READ_ERROR, f"cannot read {path!r}: {exc.strerror}") from None


# -- credentials and region -----------------------------------------------------------------


def _credentials_and_region(args: argparse.Namespace, host: str) -> tuple[Credentials, str | None]:
    """The credentials to sign with, resolved now (so a failure is reported before sending),
    and the region, by the library's one rule (`lattice_client._policy.RegionRule`): a
    generated name's (--region must agree), else --region, AWS_REGION, AWS_DEFAULT_REGION,
    the profile's."""
    provider: CredentialsLike = None
    if args.profile is not None:
        # Only --profile imports botocore here; the environment is read without it.
        import botocore.session

        session = botocore.session.Session(profile=args.profile)
        if args.profile not in session.available_profiles:
            raise _Failure(
                ExitCode.CREDENTIALS,
                f"profile {args.profile!r} is not in the AWS config or credentials file "
                "(AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE); `aws configure list-profiles` "
                "shows those there are",
            )
        provider = session
    from_host = region_from_host(host)
    try:
        region: str | None = resolve_region(
            host, args.region, sigv4a=args.sigv4a, credentials=provider
        )
    except NoRegionError:
        raise _Failure(
            ExitCode.USAGE,
            f"cannot tell which region to sign for: {host!r} is not a generated Lattice name "
            "(...vpc-lattice-svcs.<region>.on.aws). Pass --region REGION, set AWS_REGION, "
            "or sign with --sigv4a",
        ) from None
    except ConfigurationError as exc:
        if from_host is not None and args.region is not None:
            raise _Failure(
                ExitCode.USAGE,
                f"--region {args.region} contradicts the host {host!r}, a Lattice service in "
                f"{from_host}, which Lattice would refuse: drop --region (the name says the "
                "region) or fix it",
            ) from None
        raise _Failure(ExitCode.USAGE, str(exc)) from None
    credentials = CredentialsSource(
        provider,
        role_arn=args.role_arn,
        role_session_name=args.role_session_name,
        external_id=args.external_id,
    ).get(datetime.now(timezone.utc))
    return credentials, region or None


# -- stderr: -v, progress, errors -----------------------------------------------------------


def _redact_header(name: str, value: str) -> str:
    lname = name.lower()
    if lname == "authorization":
        # A SigV4 value shows all but its signature; any other scheme shows nothing.
        redacted = _SIGNATURE_VALUE.sub(r"\1<redacted>", value)
        return redacted if redacted != value else "<redacted>"
    if lname in _SECRET_HEADERS:
        return "<redacted>"
    return value


class _Verbose:
    """Writes curl-style ``*``, ``>`` and ``<`` lines to stderr from httpx's trace events."""

    def __init__(self, stream: TextIO, credentials: Credentials) -> None:
        self._stream = stream
        self._credentials = credentials

    def info(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self._stream.write(f"* {line}\n")
        self._stream.flush()

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        """httpx's ``trace`` extension: called by httpcore around each step of a request."""
        try:
            self._event(event, info)
        except Exception as exc:  # -v must never break the request it describes
            self.info(f"(cannot show {event}: {type(exc).__name__})")

    def _event(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.started":
            self.info(f"Connecting to {info.get('host')} port {info.get('port')}")
        elif event == "connection.start_tls.complete":
            get_extra_info = getattr(info.get("return_value"), "get_extra_info", None)
            ssl_object = get_extra_info("ssl_object") if get_extra_info else None
            if ssl_object is not None:
                alpn = ssl_object.selected_alpn_protocol() or "none"
                self.info(f"TLS {ssl_object.version()}, ALPN {alpn}")
        elif event.endswith(".send_request_headers.started"):
            self._request(info["request"])
        elif event == "http11.receive_response_headers.complete":
            version, status, reason, headers = info["return_value"][:4]
            status_line = f"{version.decode('ascii')} {status} {reason.decode('latin-1')}"
            self._response(status_line, headers)
        elif event == "http2.receive_response_headers.complete":
            status, headers = info["return_value"]
            self._response(f"HTTP/2 {status}", headers)

    def _request(self, request: Any) -> None:
        method = request.method.decode("ascii")
        target = request.url.target.decode("ascii")
        headers = [
            (name.decode("latin-1"), value.decode("utf-8", "surrogateescape"))
            for name, value in request.headers
        ]
        lines = [f"{method} {target}"]
        lines += [f"{name}: {_redact_header(name, value)}" for name, value in headers]
        self._stream.write("".join(f"> {line}\n" for line in lines) + ">\n")
        if method != "CONNECT":  # a proxy tunnel's own request carries no signature
            self._signing_steps(method, target, headers)

    def _response(self, status_line: str, headers: list[tuple[bytes, bytes]]) -> None:
        lines = [status_line.rstrip()]
        lines += [f"{n.decode('latin-1')}: {v.decode('latin-1')}" for n, v in headers]
        self._stream.write("".join(f"< {line}\n" for line in lines) + "<\n")
        self._stream.flush()

    def _signing_steps(self, method: str, target: str, headers: list[tuple[str, str]]) -> None:
        """Recompute the canonical request and string to sign from the request as sent."""
        from ._answers import parse_amz_date
        from ._signing import ALGORITHM_SIGV4A, redact, sign_request

        values = {name.lower(): value for name, value in headers}
        match = _AUTHORIZATION.fullmatch(values.get("authorization", ""))
        if match is None:
            self.info("not signed: only requests to the URL's host are signed")
            return
        now = parse_amz_date(values.get("x-amz-date"))
        if now is None:
            self.info("signed, but without a readable x-amz-date")
            return
        sigv4a = match["algorithm"] == ALGORITHM_SIGV4A
        scope = match["scope"].split("/")
        region = "" if sigv4a else scope[1]
        if target.startswith("/"):
            path, _, query = target.partition("?")
        else:  # absolute form, through a forward proxy: sign what the origin will see
            from urllib.parse import urlsplit

            parts = urlsplit(target)
            path, query = parts.path or "/", parts.query
        try:
            steps = sign_request(
                method,
                values.get("host", ""),
                path,
                query,
                headers,
                credentials=self._credentials,
                region=region,
                service=scope[-2],
                now=now,
                sigv4a=sigv4a,
                region_set=values.get("x-amz-region-set", ANY_REGION),
            )
        except LatticeError as exc:
            self.info(f"cannot show the signing steps: {exc}")
            return
        self.info("canonical request:")
        self._block(redact(steps.canonical_request, self._credentials))
        self.info("string to sign:")
        self._block(steps.string_to_sign)
        if not sigv4a and steps.headers["authorization"] != values["authorization"]:
            self.info("note: these steps do not reproduce the signature that was sent")

    def _block(self, text: str) -> None:
        self._stream.write("".join(f"*   {line}\n" for line in text.split("\n")))
        self._stream.flush()


class _Progress:
    """A one-line meter on stderr, drawn once a transfer passes 1 MiB, redrawn 4 times a second."""

    def __init__(self, stream: TextIO, label: str, total: int | None) -> None:
        self._stream = stream
        self._label = label
        self._total = total
        self._done = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._shown = False

    def add(self, count: int) -> None:
        self._done += count
        if self._done < _PROGRESS_AFTER:
            return
        now = time.monotonic()
        if now - self._drawn_at >= _PROGRESS_INTERVAL:
            self._draw(now)

    def finish(self) -> None:
        if self._shown:
            self._draw(time.monotonic())
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, now: float) -> None:
        self._shown = True
        self._drawn_at = now
        rate = self._done / max(now - self._started, 1e-3)
        text = f"{self._label} {_size(self._done)}"
        if self._total:
            text += f" / {_size(self._total)} {100 * self._done // self._total:3d}%"
        self._stream.write(f"\r{text}  {_size(rate)}/s\x1b[K")
        self._stream.flush()


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


# -- the transfer ---------------------------------------------------------------------------


def _chunks(stream: BinaryIO, progress: _Progress | None) -> Iterator[bytes]:
    read = getattr(stream, "read1", stream.read)
    while True:
        try:
            chunk = read(_CHUNK)
        except OSError as exc:
            raise _Failure(ExitCode.READ_ERROR, f"cannot read the upload: {exc}") from None
        if not chunk:
            break
        if progress is not None:
            progress.add(len(chunk))
        yield chunk
    if progress is not None:
        progress.finish()


class _Output:
    """stdout or the -o file, opened at the first write (nothing is created for --fail)."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._file is None:
            if self._path is None:
                self._file = sys.stdout.buffer
            else:
                try:
                    self._file = open(self._path, "wb")  # noqa: SIM115 -- closed in close()
                except OSError as exc:
                    raise _Failure(
                        ExitCode.WRITE_ERROR, f"cannot write {self._path!r}: {exc.strerror}"
                    ) from None
        try:
            self._file.write(data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _Failure(ExitCode.WRITE_ERROR, f"cannot write the output: {exc}") from None

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            if self._path is not None:
                self._file.close()


def _head_block(response: httpx.Response) -> bytes:
    version = response.http_version
    status = f"{version} {response.status_code}"
    if version != "HTTP/2":
        status += f" {response.reason_phrase}"
    lines = [status.rstrip().encode("ascii")]
    lines += [name + b": " + value for name, value in response.headers.raw]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@contextlib.contextmanager
def _max_time(seconds: float | None) -> Iterator[None]:
    """Bound the whole transfer with SIGALRM where there is one (the main thread, POSIX)."""
    if seconds is None or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise _MaxTimeExceeded

    try:
        previous = signal.signal(signal.SIGALRM, expired)
    except ValueError:  # not the main thread: the per-operation timeouts still apply
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _client(
    args: argparse.Namespace,
    credentials: Credentials,
    region: str | None,
    host: str,
) -> httpx.Client:
    import httpx

    from ._client import Client

    verify: ssl.SSLContext | bool = True
    if args.insecure:
        verify = False
    elif args.cacert is not None:
        try:
            verify = ssl.create_default_context(cafile=args.cacert)
        except (OSError, ssl.SSLError) as exc:
            raise _Failure(
                ExitCode.READ_ERROR, f"cannot read CA certificates from {args.cacert!r}: {exc}"
            ) from None
    if args.http2 or args.http2_prior_knowledge:
        import importlib.util

        if importlib.util.find_spec("h2") is None:
            raise _Failure(
                ExitCode.USAGE, "--http2 needs the h2 package: pip install 'httpx[http2]'"
            )
    connect = args.connect_timeout or args.max_time or _DEFAULT_CONNECT_TIMEOUT
    client = Client(
        credentials=credentials,
        region=region,
        service=args.service,
        sigv4a=args.sigv4a,
        region_set=args.region_set,
        verify=verify,
        http1=not args.http2_prior_knowledge,
        http2=args.http2 or args.http2_prior_knowledge,
        timeout=httpx.Timeout(args.max_time, connect=connect),
        follow_redirects=args.location,
        max_redirects=args.max_redirs,
    )
    # curl sends no Accept-Encoding unless --compressed, and writes the body as received.
    if not args.compressed:
        del client.headers["accept-encoding"]
    from . import __version__

    # As bytes: a str value httpx would encode as ASCII, and -A takes any text, as curl does.
    client.headers.update({b"User-Agent": _utf8(args.user_agent or f"{PROG}/{__version__}")})
    return client


def _method(args: argparse.Namespace, body: _Body | None) -> str:
    if args.request is not None:
        return str(args.request)
    if args.head:
        return "HEAD"
    if args.upload_file is not None:
        return "PUT"
    return "POST" if body is not None else "GET"


def _run(args: argparse.Namespace, err: _ErrorPrinter) -> ExitCode:
    import httpx

    url = httpx.URL(args.url)  # checked by _check_usage
    if args.upload_file not in (None, "-") and url.path.endswith("/"):
        # curl's rule: -T FILE to a URL ending in "/" uploads to <URL><file name>.
        url = url.copy_with(path=url.path + os.path.basename(args.upload_file))
    host = url.netloc.decode("ascii")
    headers, removed = _headers(args)
    credentials, region = _credentials_and_region(args, host)
    show_progress = not args.silent and sys.stderr.isatty()
    verbose = _Verbose(sys.stderr, credentials) if args.verbose else None

    with _client(args, credentials, region, host) as client, contextlib.ExitStack() as stack:
        for name in removed:
            client.headers.pop(name, None)
        body = _body(args)
        content: bytes | Iterator[bytes] | None = None
        if body is not None:
            if body.form and not any(n.lower() == b"content-type" for n, _ in headers):
                headers.append((b"Content-Type", b"application/x-www-form-urlencoded"))
            if body.stream is not None:
                if body.stream is not sys.stdin.buffer:  # a file _body opened
                    stack.callback(body.stream.close)
                progress = _Progress(sys.stderr, "upload", body.length) if show_progress else None
                content = _chunks(body.stream, progress)
                if body.length is not None:
                    headers.append((b"Content-Length", str(body.length).encode()))
            else:
                content = body.content
        extensions = {"trace": verbose} if verbose is not None else {}
        request = client.build_request(
            _method(args, body), url, headers=headers, content=content, extensions=extensions
        )
        response = client.send(request, stream=True)
        stack.callback(response.close)
        return _answer(args, response, show_progress, err)


def _answer(
    args: argparse.Namespace, response: httpx.Response, show_progress: bool, err: _ErrorPrinter
) -> ExitCode:
    import httpx

    from ._responses import raise_for_status

    try:
        raise_for_status(response)
    except LatticeResponseError as error:
        # Lattice's own refusals never reached the service: report them, write no body.
        if isinstance(error, AccessDeniedError | SignatureError) or args.fail:
            err.error(_in_command_terms(str(error)))
            return _exit_code(error)
    output = _Output(args.output)
    try:
        if args.include or args.head:
            for hop in response.history:
                output.write(_head_block(hop))
            output.write(_head_block(response))
        if args.head:
            return ExitCode.OK
        total = response.headers.get("content-length")
        progress = (
            _Progress(sys.stderr, "download", int(total) if total and total.isdigit() else None)
            if show_progress
            else None
        )
        chunks: Iterator[bytes]
        try:
            # An error answer raise_for_status has read whole already.
            chunks = iter((response.content,))
        except httpx.ResponseNotRead:
            chunks = response.iter_bytes() if args.compressed else response.iter_raw()
        for chunk in chunks:
            output.write(chunk)
            if progress is not None:
                progress.add(len(chunk))
        if progress is not None:
            progress.finish()
    finally:
        output.close()
    return ExitCode.OK


# -- errors ---------------------------------------------------------------------------------


def _exit_codes() -> list[tuple[type[BaseException], ExitCode]]:
    """Exception -> exit code, most specific first: the one table."""
    import httpx

    return [
        # First: when an error answer asked for the re-send, it is also that answer's class.
        (BodyNotReplayableError, ExitCode.TRANSPORT),
        (AccessDeniedError, ExitCode.ACCESS_DENIED),
        (SignatureError, ExitCode.SIGNATURE),
        (NotFoundError, ExitCode.NOT_FOUND),
        (LatticeResponseError, ExitCode.HTTP_ERROR),
        (CredentialsError, ExitCode.CREDENTIALS),
        (ServiceNameNotResolvedError, ExitCode.RESOLVE),
        (ConfigurationError, ExitCode.USAGE),
        (SigningError, ExitCode.USAGE),
        (MissingDependencyError, ExitCode.USAGE),
        (httpx.TimeoutException, ExitCode.TIMEOUT),
        (_MaxTimeExceeded, ExitCode.TIMEOUT),
        (httpx.TooManyRedirects, ExitCode.TOO_MANY_REDIRECTS),
        (httpx.TransportError, ExitCode.TRANSPORT),
        (httpx.StreamError, ExitCode.TRANSPORT),
        (httpx.RequestError, ExitCode.TRANSPORT),  # e.g. DecodingError with --compressed
    ]


def _exit_code(error: BaseException) -> ExitCode:
    from ._transports import is_name_resolution_failure

    if not isinstance(error, LatticeError) and is_name_resolution_failure(error):
        return ExitCode.RESOLVE
    for kind, code in _exit_codes():
        if isinstance(error, kind):
            return code
    raise error


def _describe(error: BaseException) -> str:
    """The message for an error that is not Lattice's own (those carry their own)."""
    import httpx

    if isinstance(error, _MaxTimeExceeded | httpx.TimeoutException):
        kind = "connecting" if isinstance(error, httpx.ConnectTimeout) else "the transfer"
        return f"timed out ({kind}): raise --connect-timeout / -m, or check the service"
    if isinstance(error, httpx.TooManyRedirects):
        return f"{error}; raise --max-redirs or check the redirect loop"
    if isinstance(error, BodyNotReplayableError) and error.reason != "redirect":
        return (
            f"the request would be sent again ({error.reason}), but its body was streamed "
            "(-T, --data-binary @FILE): nothing more was sent"
        )
    if isinstance(error, httpx.StreamConsumed | BodyNotReplayableError):
        return (
            "the redirect needs the request body sent again, but it was streamed (-T, "
            "--data-binary @FILE): send it to the URL the redirect names"
        )
    if isinstance(error, httpx.ConnectError):
        from ._transports import is_name_resolution_failure

        if is_name_resolution_failure(error):
            try:
                host = error.request.url.host
            except RuntimeError:
                host = "the host"
            return f"could not resolve host {host}: check the name, and the DNS used here"
    if isinstance(error, httpx.TransportError):
        try:
            # Without the query (it may carry a presigned credential) nor user:password.
            where = f" ({error.request.url.copy_with(query=None, userinfo=b'')})"
        except RuntimeError:  # raised before a request was made
            where = ""
        detail = str(error) or type(error).__name__
        return f"transport error{where}: {detail}"
    return str(error)


# The library's messages name Python arguments; on the command line, the options.
_COMMAND_TERMS = (
    (
        re.compile(
            r"Send the request to that URL yourself, or list its origin in signing_origins\."
        ),
        "Run lattice-curl with that URL instead of following the redirect.",
    ),
    (re.compile(r"\bpass credentials=(?=\W|$)"), "pass --profile NAME"),
    (re.compile(r"\bsigv4a=True\b"), "--sigv4a"),
    (re.compile(r"\bregion=(?=[\s,.;)]|$)"), "--region"),
    (re.compile(r"\bservice=(?=[\s,.;)]|$)"), "--service"),
    (re.compile(r"\bpass --region, set AWS_REGION"), "pass --region REGION, set AWS_REGION"),
)


def _in_command_terms(message: str) -> str:
    """``message`` with the library's argument names replaced by lattice-curl's options."""
    for pattern, words in _COMMAND_TERMS:
        message = pattern.sub(words, message)
    return message


class _ErrorPrinter:
    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self._stream = stream
        self._quiet = quiet

    def error(self, message: str) -> None:
        if self._quiet:
            return
        for line in message.splitlines():
            self._stream.write(f"{PROG}: {line}\n")
        self._stream.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lattice-curl`` command; returns the exit status."""
    if argv is None:
        argv = sys.argv[1:]
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        _check_usage(parser, args)
    except SystemExit as usage:  # argparse's error (2) or --help (0): an exit code, in process
        if usage.code is None or isinstance(usage.code, int):
            return usage.code or 0
        return int(ExitCode.USAGE)
    err = _ErrorPrinter(sys.stderr, quiet=args.silent and not args.show_error)
    try:
        with _max_time(args.max_time):
            return int(_run(args, err))
    except _Failure as failure:
        err.error(str(failure))
        return int(failure.code)
    except LatticeError as error:
        err.error(
            _describe(error)
            if isinstance(error, BodyNotReplayableError)
            else _in_command_terms(str(error))
        )
        return int(_exit_code(error))
    except _MaxTimeExceeded as error:
        err.error(_describe(error))
        return int(ExitCode.TIMEOUT)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, like curl, without a traceback at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.WRITE_ERROR)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except Exception as error:
        code = _exit_code(error)  # re-raises what it does not know: a bug worth a traceback
        err.error(_in_command_terms(_describe(error)))
        return int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
