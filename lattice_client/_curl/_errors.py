"""``lattice-curl``'s exit codes and error messages: one table, one voice.

`ExitCode` is what the exit status means (also in ``--help``, through `_EXIT_HELP`,
and docs/curl.md); `_exit_codes` maps exceptions to those codes, most specific first;
`_describe` and `_in_command_terms` turn an error into a message in the command's own
words (options, not Python arguments); `_ErrorPrinter` writes it to stderr, prefixed
with the command's name, unless ``-s``. `_Failure` is the command's own error and
`_MaxTimeExceeded` the ``-m`` alarm.
"""

from __future__ import annotations

import enum
import re
from typing import TextIO

from lattice_client._exceptions import (
    AccessDeniedError,
    BodyNotReplayableError,
    ConfigurationError,
    CredentialsError,
    LatticeError,
    LatticeResponseError,
    MissingDependencyError,
    NotFoundError,
    ServiceNameNotResolvedError,
    SignatureError,
    SigningError,
)

PROG = "lattice-curl"


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
    from lattice_client._transports import is_name_resolution_failure

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
        from lattice_client._transports import is_name_resolution_failure

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
