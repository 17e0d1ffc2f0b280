"""``lattice-curl``'s transfer: from checked options to a request sent and an answer written.

`_run` builds the body (`_body`: -T or -d/--data-*, streamed in chunks when it comes
from a file or stdin), resolves the credentials and the region before anything is sent
(`_credentials_and_region`), makes the signing `lattice_client.Client` (`_client`) and
sends the request; `_answer` reports Lattice's own refusals and writes the headers and
body, as they arrive, to stdout or the -o file (`_Output`). `_max_time` bounds the whole
transfer (``-m``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from types import FrameType
from typing import IO, TYPE_CHECKING, BinaryIO

from lattice_client._credentials import Credentials, CredentialsLike, CredentialsSource
from lattice_client._exceptions import (
    AccessDeniedError,
    ConfigurationError,
    LatticeResponseError,
    NoRegionError,
    SignatureError,
)
from lattice_client._lattice import region_from_host
from lattice_client._policy import resolve_region

from ._errors import (
    PROG,
    ExitCode,
    _ErrorPrinter,
    _exit_code,
    _Failure,
    _in_command_terms,
    _MaxTimeExceeded,
)
from ._options import _headers, _utf8
from ._progress import _Progress
from ._trace import _Verbose

if TYPE_CHECKING:
    import httpx

# Bytes read from an upload source per chunk: small enough that memory stays flat.
_CHUNK = 64 * 1024
# curl's default: give up connecting after 300 s; no limit on the transfer itself.
_DEFAULT_CONNECT_TIMEOUT = 300.0


# -- the body -------------------------------------------------------------------------------


@dataclass
class _Body:
    """What to send: bytes in memory, or a binary stream read chunk by chunk."""

    content: bytes | None = None
    stream: BinaryIO | None = None
    length: int | None = None  # for a stream: its size when known (a regular file)
    form: bool = False  # -d and --data-*: curl's default Content-Type


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

    from lattice_client._client import Client

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
    from lattice_client import __version__

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

    from lattice_client._responses import raise_for_status

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
