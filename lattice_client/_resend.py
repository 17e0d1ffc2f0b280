"""Sending a request again: the decisions every adapter shares, whatever its HTTP library.

Three things make a client send a request again: a 307/308 redirect (which
keeps the body), Lattice refusing our clock (re-sign at the corrected time and
send once more), and, when retries are turned on, a failed connect, a reset
before the answer, or one of Lattice's transient answers. This module holds
what they share and knows no HTTP library:

- `resend` / `aresend`: the send loop, sync and async: sign, send, classify the
  answer, maybe re-sign and send again. An adapter hands it an `Exchange`
  (`AsyncExchange`): the request in its library's terms, able to sign itself,
  send itself, say what an answer is and ready its body for another send;
- `Attempts`: one call's attempts under a `Retries`: may it be sent again after
  this answer or failure, and after how long (full-jitter backoff,
  ``Retry-After``, the attempt cap, the total-time and deadline bound);
- `learn_skew`: whether an error answer says our clock is off, learning the offset;
- `body_not_replayable`: the one error for a body that cannot be sent again,
  raised before anything more is sent;
- `log_retry`: the INFO line each retry leaves, without secrets.

``_httpx_resend`` is the httpx adapter's exchange; requests and aiohttp
adapters plug in the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Protocol, TypeVar

from ._exceptions import BodyNotReplayableError, LatticeResponseError, SignatureExpiredError

if TYPE_CHECKING:
    from ._clock import ClockSkew
    from ._retries import Retries

__all__ = [
    "DEADLINE_EXTENSION",
    "AsyncExchange",
    "Attempts",
    "Exchange",
    "aresend",
    "body_not_replayable",
    "learn_skew",
    "log_retry",
    "parse_retry_after",
    "resend",
    "with_attempts",
]

R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)

logger = logging.getLogger("lattice_client")

# The request extension (httpx) holding a call's deadline as a time.monotonic()
# value; lattice_client.aws_lambda.deadline sets it, retries never wait past it.
DEADLINE_EXTENSION = "lattice_client.deadline"

# What the caller can do instead, by what would have sent the body again.
_INSTEAD = {
    "redirect": "or send with follow_redirects=False and follow the redirect yourself",
    "clock skew": "or correct this host's clock",
    "retry": "or turn retries off for this request",
}


class _Request(Protocol[R_contra]):
    """What the loop asks of a request whatever the library, sync or async."""

    method: str

    def where(self) -> str:
        """``"<METHOD> <URL>"`` without query or user info: for messages and logs."""

    def deadline(self) -> float | None:
        """The call's own deadline (``time.monotonic()``), if it has one."""

    def failure(self, error: Exception) -> bool | None:
        """For an error raised by a send: None if no retry is for it; else may it have reached
        the service (False: a failed connect, nothing was sent)."""

    def status(self, answer: R_contra) -> int:
        """The answer's HTTP status."""

    def header(self, answer: R_contra, name: str) -> str | None:
        """One header of the answer (lowercase ``name``)."""

    def replay(self) -> bool:
        """Ready the body for another send (rewind a file); False when it cannot be sent again."""


class Exchange(_Request[R], Protocol[R]):
    """One request in flight through a sync adapter."""

    def sign(self) -> bool:
        """Strip any previous signature and sign now; False for a host that is not signed."""

    def send(self) -> R:
        """Send the request as it is now; the answer's head has arrived when it returns."""

    def expired(self, answer: R) -> bool:
        """For a 4xx: does it say our clock is off (the clock then learned)? Leaves it readable."""

    def error(self, answer: R, attempts: int) -> LatticeResponseError:
        """The answer's typed error, ``attempts`` set; the answer is closed."""

    def discard(self, answer: R) -> None:
        """Close an answer that is followed by another send (keeping the connection if cheap)."""


class AsyncExchange(_Request[R], Protocol[R]):
    """One request in flight through an async adapter: `Exchange` with coroutines."""

    async def sign(self) -> bool:
        """As `Exchange.sign`."""

    async def send(self) -> R:
        """As `Exchange.send`."""

    async def expired(self, answer: R) -> bool:
        """As `Exchange.expired`."""

    async def error(self, answer: R, attempts: int) -> LatticeResponseError:
        """As `Exchange.error`."""

    async def discard(self, answer: R) -> None:
        """As `Exchange.discard`."""


def resend(exchange: Exchange[R], retries: Retries | None, first: R | None = None) -> R:
    """Send ``exchange``'s request, re-signing and sending again as Lattice's answers call for.

    ``first``: the answer to a first send the adapter already made, signed (its
    fast path); the loop starts by classifying it. A 4xx saying our clock is off
    is re-signed and sent once more. With ``retries``, failed connects, resets
    before the answer and transient answers are sent again as `Attempts`
    decides; when they run out the last answer's typed error is raised. A body
    that cannot be sent again raises `BodyNotReplayableError` instead, before
    anything more is sent.
    """
    attempts = _attempts(exchange, retries)
    signed = True if first is not None else exchange.sign()
    skew_resent = False
    answer = first
    while True:
        if answer is None:
            try:
                answer = exchange.send()
            except Exception as error:
                wait = _after_failure(exchange, attempts, error)
                if wait is None:
                    raise
                time.sleep(wait)
                signed = exchange.sign()
                continue
        status = exchange.status(answer)
        if signed and not skew_resent and 400 <= status < 500 and exchange.expired(answer):
            if not exchange.replay():
                raise body_not_replayable(
                    "clock skew", exchange.where(), answer=exchange.error(answer, 1)
                )
            exchange.discard(answer)
            skew_resent, answer = True, None
            signed = exchange.sign()
            continue
        if attempts is None or not attempts.transient(status):
            return answer
        wait = attempts.after_answer(status, exchange.header(answer, "retry-after"))
        if wait is None:
            raise exchange.error(answer, attempts.count)
        if not exchange.replay():
            typed = exchange.error(answer, attempts.count)
            raise body_not_replayable("retry", exchange.where(), answer=typed)
        exchange.discard(answer)
        log_retry(exchange.where(), str(status), attempts, wait)
        time.sleep(wait)
        answer = None
        signed = exchange.sign()


async def aresend(exchange: AsyncExchange[R], retries: Retries | None, first: R | None = None) -> R:
    """`resend` for an async adapter (asyncio or trio: waits with anyio)."""
    attempts = _attempts(exchange, retries)
    signed = True if first is not None else await exchange.sign()
    skew_resent = False
    answer = first
    while True:
        if answer is None:
            try:
                answer = await exchange.send()
            except Exception as error:
                wait = _after_failure(exchange, attempts, error)
                if wait is None:
                    raise
                await _asleep(wait)
                signed = await exchange.sign()
                continue
        status = exchange.status(answer)
        if signed and not skew_resent and 400 <= status < 500 and await exchange.expired(answer):
            if not exchange.replay():
                raise body_not_replayable(
                    "clock skew", exchange.where(), answer=await exchange.error(answer, 1)
                )
            await exchange.discard(answer)
            skew_resent, answer = True, None
            signed = await exchange.sign()
            continue
        if attempts is None or not attempts.transient(status):
            return answer
        wait = attempts.after_answer(status, exchange.header(answer, "retry-after"))
        if wait is None:
            raise await exchange.error(answer, attempts.count)
        if not exchange.replay():
            typed = await exchange.error(answer, attempts.count)
            raise body_not_replayable("retry", exchange.where(), answer=typed)
        await exchange.discard(answer)
        log_retry(exchange.where(), str(status), attempts, wait)
        await _asleep(wait)
        answer = None
        signed = await exchange.sign()


def _attempts(exchange: _Request[R], retries: Retries | None) -> Attempts | None:
    if retries is None:
        return None
    return Attempts(retries, exchange.method, deadline=exchange.deadline())


def _after_failure(
    exchange: _Request[R], attempts: Attempts | None, error: Exception
) -> float | None:
    """The wait before retrying after ``error`` from a send; None: re-raise it.

    Raises `BodyNotReplayableError` (from ``error``) when a retry is due and the
    body cannot be sent again.
    """
    if attempts is None:
        return None
    reached = exchange.failure(error)
    if reached is None:
        return None
    wait = attempts.after_failure(may_have_reached=reached)
    if wait is None:
        _note_attempts(error, attempts.count)
        return None
    if not exchange.replay():
        raise body_not_replayable("retry", exchange.where(), failure=error) from error
    log_retry(exchange.where(), type(error).__name__, attempts, wait)
    return wait


def _note_attempts(error: Exception, count: int) -> None:
    """Say on a connection error (the library's own class) how many attempts were made."""
    error.attempts = count  # type: ignore[attr-defined]
    add_note = getattr(error, "add_note", None)  # Python 3.11+
    if add_note is not None and count > 1:
        add_note(f"lattice_client: gave up after {count} attempts")


E = TypeVar("E", bound=LatticeResponseError)


def with_attempts(error: E, attempts: int) -> E:
    """``error`` (an answer's typed error) saying how many attempts were made."""
    error.attempts = attempts
    if attempts > 1:
        error.args = (f"{error.args[0]}\n(after {attempts} attempts)", *error.args[1:])
    return error


async def _asleep(seconds: float) -> None:
    import anyio  # httpx's own dependency; loaded only when a retry waits

    await anyio.sleep(seconds)


class Attempts:
    """One call's attempts under ``retries``: whether to send again, and after how long.

    Created just before the first send, which it counts. ``deadline`` (a
    ``time.monotonic()`` value) is the call's own bound, if it has one; the
    attempts end at the earlier of it and ``retries.total`` after the first send.
    """

    __slots__ = ("_now", "count", "end", "method_allowed", "retries")

    def __init__(
        self,
        retries: Retries,
        method: str,
        *,
        deadline: float | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retries = retries
        self.method_allowed = method.upper() in retries.methods
        self.count = 1
        self._now = now
        end = now() + retries.total
        self.end = end if deadline is None else min(end, deadline)

    def transient(self, status: int) -> bool:
        """Whether an answer with ``status`` is one retries are for (the method allowing)."""
        return self.method_allowed and status in self.retries.statuses

    def after_answer(self, status: int, retry_after: str | None = None) -> float | None:
        """Seconds to wait before sending again after answer ``status``; None: do not."""
        if not self.transient(status):
            return None
        return self._next(parse_retry_after(retry_after))

    def after_failure(self, *, may_have_reached: bool) -> float | None:
        """Seconds to wait before sending again after a connection failure; None: do not.

        A failed connect sent nothing (``may_have_reached=False``): any method is
        sent again. A reset before the answer may come after the server acted on
        the request: only an allowed (idempotent) method is.
        """
        if may_have_reached and not self.method_allowed:
            return None
        return self._next(None)

    def _next(self, retry_after: float | None) -> float | None:
        retries = self.retries
        if self.count >= retries.attempts:
            return None
        if retry_after is not None:
            wait = retry_after
        else:
            import random  # not at import time: a Lambda cold start without retries skips it

            # Jitter, not cryptography: the default generator is right here.
            wait = random.uniform(0.0, retries.backoff_bound(self.count))  # noqa: S311
        if self._now() + wait > self.end:
            return None  # the next attempt would start past the bound: stop now
        self.count += 1
        return wait


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait (delay-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime  # rare; email.utils costs import time

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(seconds, 0.0)


def learn_skew(
    status: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    *,
    signed_at: datetime | None,
    clock: ClockSkew,
) -> bool:
    """True when the error answer says the signature expired and ``clock`` learned the offset.

    ``body`` is the start of the answer's body (at most 64 KiB is looked at).
    """
    if not 400 <= status <= 499:
        return False
    from ._answers import classify

    classification = classify(status, headers, body, signed_at=signed_at)
    if classification.error_class is not SignatureExpiredError:
        return False
    server_time = classification.server_time
    return server_time is not None and clock.learn(server_time)


def body_not_replayable(
    reason: str,
    where: str,
    *,
    answer: LatticeResponseError | None = None,
    failure: BaseException | None = None,
) -> BodyNotReplayableError:
    """The error for a body that ``reason`` would send again and cannot be; nothing was sent.

    ``where`` is ``"<METHOD> <URL without query>"``. With ``answer``, the error
    answer that asked for the re-send, the result is also an instance of that
    answer's class and carries its fields: ``except SignatureExpiredError`` and
    ``except BodyNotReplayableError`` both catch it. ``failure`` is the
    connection error that asked for a retry.
    """
    why = {
        "redirect": "the server redirected it (307/308 keep the body)",
        "clock skew": "Lattice refused the signature's time, and it would be re-signed and re-sent",
        "retry": "it would be retried",
    }[reason]
    if failure is not None:
        why += f" after {type(failure).__name__}: {failure}"
    message = (
        f"{where}: {why}, but its body is a stream (a generator, an iterator, or a file that "
        "cannot seek) already sent once; it was not sent again. Pass the body as bytes, or as "
        f"a file opened by you that can seek (it is rewound), {_INSTEAD[reason]}."
    )
    if answer is None:
        error = BodyNotReplayableError(message)
        error.reason = reason
        return error
    flavour = _WITH_ANSWER.get(type(answer)) or _with_answer(type(answer))
    # The answer's own layout: requests' flavours are OSErrors, which
    # BodyNotReplayableError's RuntimeError.__new__ would refuse to build.
    combined = type(answer).__new__(flavour)
    combined.__dict__.update(answer.__dict__)
    combined.args = (f"{answer}\n{message}",)
    combined.reason = reason
    return combined


_WITH_ANSWER: dict[type[LatticeResponseError], type[BodyNotReplayableError]] = {}


def _with_answer(answer_class: type[LatticeResponseError]) -> type[BodyNotReplayableError]:
    """`BodyNotReplayableError` that is also ``answer_class`` (one class per answer class)."""
    flavour = _WITH_ANSWER[answer_class] = type(
        "BodyNotReplayableError",
        (BodyNotReplayableError, answer_class),
        {
            "__module__": __name__,
            "__doc__": f"BodyNotReplayableError for an answer that is a {answer_class.__name__}.",
        },
    )
    return flavour


def log_retry(where: str, after: str, attempts: Attempts, wait: float) -> None:
    """The INFO line for one retry; ``where`` must carry no query string (presigned URLs)."""
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "retrying %s after %s: attempt %d of %d in %.2f s",
            where,
            after,
            attempts.count,
            attempts.retries.attempts,
            wait,
        )
