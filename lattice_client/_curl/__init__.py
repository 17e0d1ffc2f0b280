"""``lattice-curl``: curl's habits, with every request signed for Lattice.

The request goes through `lattice_client.Client`, so each hop (``-L``) is signed
anew as it is sent and a hop to another host goes unsigned. ``-v`` reads the
request as it goes on the wire through httpx's ``trace`` extension, then
recomputes the canonical request and the string to sign with the signing core
from what was sent (``sign_request`` is pure), so what it prints is what the
signature covers. Bodies stream both ways: an upload is read in chunks as it is
sent (``UNSIGNED-PAYLOAD``: nothing hashes it), a download is written as it
arrives.

This module holds `main`, the entry point; the rest lives along its seams:
`_options` (the command line), `_transfer` (running a transfer), `_trace` (``-v``),
`_progress` (the meter) and `_errors` (exit codes, in `ExitCode`, and the mapping
from exceptions to them in `_exit_codes`: one table).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from lattice_client._exceptions import BodyNotReplayableError, LatticeError

from ._errors import (
    ExitCode,
    _describe,
    _ErrorPrinter,
    _exit_code,
    _Failure,
    _in_command_terms,
    _MaxTimeExceeded,
)
from ._options import _check_usage
from ._options import _parser as _parser  # re-exported: tests/test_cli_help.py reads it here
from ._transfer import _max_time, _run

__all__ = ["ExitCode", "main"]


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
