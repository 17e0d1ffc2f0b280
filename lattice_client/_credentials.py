"""AWS credentials: the immutable snapshot the signer uses, and where snapshots come from.

The signer never looks credentials up itself: an adapter asks a
`CredentialsSource` for one consistent snapshot per request and passes it in.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, runtime_checkable

from ._exceptions import (
    ConfigurationError,
    CredentialsExpiredError,
    CredentialsRefreshError,
    CredentialsTimeoutError,
    NoCredentialsError,
)
from ._validate import check_credentials

logger = logging.getLogger("lattice_client")

# Refresh credentials that carry an expiry this long before it (one refresh, the
# other threads keep signing with the current snapshot meanwhile) ...
ADVISORY_REFRESH = timedelta(minutes=5)
# ... and stop using them this long before it when a refresh fails: a request
# signed now must still be valid when it reaches Lattice.
MANDATORY_REFRESH = timedelta(minutes=1)
# Between the two, after a refresh that failed or brought credentials that are
# themselves inside the advisory window, the snapshot in hand keeps serving this
# long before the provider is asked again: not once per request.
REFRESH_RETRY = timedelta(seconds=30)


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """One consistent set of AWS credentials: key id, secret, token and expiry belong together.

    Immutable; its repr and str show the key id and expiry but never the secret or token.
    """

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expiry: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.access_key_id, str) or not self.access_key_id:
            raise ConfigurationError("Credentials.access_key_id must be a non-empty string")
        if not isinstance(self.secret_access_key, str) or not self.secret_access_key:
            raise ConfigurationError("Credentials.secret_access_key must be a non-empty string")
        if self.session_token is not None and (
            not isinstance(self.session_token, str) or not self.session_token
        ):
            raise ConfigurationError("Credentials.session_token must be a non-empty string or None")
        if self.expiry is not None and (
            not isinstance(self.expiry, datetime) or self.expiry.utcoffset() is None
        ):
            raise ConfigurationError(
                "Credentials.expiry must be a timezone-aware datetime, "
                "for example datetime(..., tzinfo=timezone.utc)"
            )
        check_credentials(self.access_key_id, self.secret_access_key, self.session_token)

    def __repr__(self) -> str:
        token = "'<redacted>'" if self.session_token is not None else "None"
        expiry = self.expiry.isoformat() if self.expiry is not None else None
        return (
            f"Credentials(access_key_id={self.access_key_id!r}, "
            f"secret_access_key='<redacted>', session_token={token}, expiry={expiry!r})"
        )

    __str__ = __repr__

    def expired(self, now: datetime, *, margin: timedelta = timedelta(0)) -> bool:
        """True when these credentials expire before ``now + margin``."""
        return self.expiry is not None and now + margin >= self.expiry


@runtime_checkable
class CredentialsProvider(Protocol):
    """Anything with ``get_credentials()``: a provider of ours, or a botocore/boto3 session.

    It may return `Credentials`, or a botocore credentials object (which we freeze
    into one consistent snapshot per request).
    """

    def get_credentials(self) -> object: ...


CredentialsLike = Credentials | CredentialsProvider | None


def credentials_from_environ(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The credentials in the standard AWS environment variables, read without botocore.

    None when ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` are both unset.
    """
    env = os.environ if environ is None else environ
    key_id = env.get("AWS_ACCESS_KEY_ID", "")
    secret = env.get("AWS_SECRET_ACCESS_KEY", "")
    if not key_id and not secret:
        return None
    if not key_id or not secret:
        missing = "AWS_ACCESS_KEY_ID" if not key_id else "AWS_SECRET_ACCESS_KEY"
        present = "AWS_SECRET_ACCESS_KEY" if not key_id else "AWS_ACCESS_KEY_ID"
        raise NoCredentialsError(f"{present} is set but {missing} is not: set both or neither")
    token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN") or None
    expiry = None
    if raw_expiry := env.get("AWS_CREDENTIAL_EXPIRATION"):
        expiry = _parse_expiry(raw_expiry, "AWS_CREDENTIAL_EXPIRATION")
    return Credentials(key_id, secret, token, expiry)


def _parse_expiry(raw: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(f"{where} is not an ISO 8601 timestamp: {raw!r}") from None
    return parsed if parsed.utcoffset() is not None else parsed.replace(tzinfo=timezone.utc)


def _from_botocore(obj: Any) -> Credentials:
    """Freeze a botocore credentials object into one snapshot (key, secret, token together)."""
    # botocore keeps a refreshable set's expiry private. Read it before freezing:
    # if a refresh lands in between, we pair newer keys with the older expiry and
    # merely refresh early, never late.
    expiry = getattr(obj, "_expiry_time", None)
    try:
        frozen = obj.get_frozen_credentials()
    except Exception as exc:
        raise CredentialsRefreshError(
            f"botocore could not refresh credentials ({type(exc).__name__}); "
            "check the profile, role or credential source it uses"
        ) from exc
    if not frozen.access_key or not frozen.secret_key:
        raise NoCredentialsError("botocore returned credentials without a key id or secret")
    if not isinstance(expiry, datetime):
        expiry = None
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None, expiry)


def _to_credentials(value: object, source: str) -> Credentials:
    if isinstance(value, Credentials):
        return value
    if hasattr(value, "get_frozen_credentials"):
        return _from_botocore(value)
    if value is None:
        raise NoCredentialsError(f"{source} returned no credentials")
    raise ConfigurationError(
        f"{source} returned {type(value).__name__}; expected lattice_client.Credentials "
        "or a botocore credentials object"
    )


def _botocore_default_chain() -> object:
    # Imported here: botocore costs more import time than the rest of a Lambda cold start.
    import botocore.session

    return botocore.session.Session().get_credentials()


class CredentialsSource:
    """Hands out one consistent, unexpired `Credentials` snapshot per request; thread-safe.

    Built from what users pass as ``credentials=``:

    - `Credentials`: used as is until its expiry;
    - a provider (``get_credentials()``, including botocore and boto3 sessions):
      asked again whenever the snapshot in hand has no expiry, or nears it;
    - None: the environment variables (read without importing botocore), else
      botocore's default chain (profiles, SSO, container, IMDS, assume-role,
      credential_process), resolved on first use.

    With ``role_arn``, what ``credentials`` gives is only the base: each snapshot
    is the role's, assumed through STS with it (`AssumeRoleProvider`).

    One refresh runs at a time and every request that needs it waits for that one
    and shares its outcome, a failure included.
    """

    __slots__ = ("_cached", "_flight", "_lock", "_provider", "_resolved", "_retry_at")

    def __init__(
        self,
        credentials: CredentialsLike = None,
        *,
        role_arn: str | None = None,
        role_session_name: str | None = None,
        external_id: str | None = None,
        duration: timedelta | int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._cached: Credentials | None = None
        self._provider: CredentialsProvider | None = None
        self._resolved = False
        self._flight: _Flight | None = None
        # Before this time (the caller's clock) a snapshot inside the advisory
        # window is used without asking the provider again.
        self._retry_at: datetime | None = None
        credentials = with_role(
            credentials,
            role_arn=role_arn,
            role_session_name=role_session_name,
            external_id=external_id,
            duration=duration,
        )
        if isinstance(credentials, Credentials):
            self._cached = credentials
            self._resolved = True
        elif credentials is not None:
            if not callable(getattr(credentials, "get_credentials", None)):
                raise ConfigurationError(
                    f"credentials= got {type(credentials).__name__}; pass lattice_client."
                    "Credentials, an object with get_credentials() (a provider, a botocore or "
                    "boto3 session), or None for the default chain"
                )
            self._provider = credentials
            self._resolved = True

    def __repr__(self) -> str:
        kind = "default chain" if not self._resolved else type(self._provider or self._cached)
        return f"<CredentialsSource {kind}>"

    def peek(self, now: datetime) -> Credentials | None:
        """The snapshot in hand if it can be used at ``now`` without any I/O, else None."""
        cached = self._cached
        if cached is None:
            return None
        if cached.expiry is None:
            return cached if self._provider is None else None
        if not cached.expired(now, margin=ADVISORY_REFRESH):
            return cached
        retry_at = self._retry_at
        if (
            retry_at is not None
            and now < retry_at
            and not cached.expired(now, margin=MANDATORY_REFRESH)
        ):
            return cached  # a refresh was tried moments ago: not on every request
        return None

    def get(self, now: datetime, timeout: float | None = None) -> Credentials:
        """A snapshot valid at ``now``; may fetch or refresh (I/O) and so may block.

        ``timeout`` (seconds) bounds the wait when the snapshot in hand will not
        do: past it `CredentialsTimeoutError` is raised, and the fetch goes on in
        the background for the requests that come after.
        """
        snapshot = self.peek(now)
        if snapshot is not None:
            return snapshot
        cached = self._cached
        if cached is not None and self._provider is None:
            # Static credentials near or past their expiry: nothing can refresh them.
            if cached.expired(now):
                raise CredentialsExpiredError(
                    f"the credentials for access key {cached.access_key_id} expired at "
                    f"{cached.expiry:%Y-%m-%dT%H:%M:%SZ}; pass fresh ones or a provider"
                )
            return cached
        usable = cached is not None and not cached.expired(now, margin=MANDATORY_REFRESH)
        with self._lock:
            flight = self._flight
            lead = flight is None
            if lead:
                flight = self._flight = _Flight()
        assert flight is not None
        if not lead:
            if usable:
                # Another thread is refreshing; this snapshot is still good for a while.
                assert cached is not None
                return cached
            return flight.outcome(timeout)
        if timeout is None:
            self._fly(flight, now)
        else:
            # In another thread, so that this request can stop waiting for it.
            _workers.run(lambda: self._fly(flight, now))
        return flight.outcome(timeout)

    def _fly(self, flight: _Flight, now: datetime) -> None:
        """Run one refresh and publish its outcome to every request waiting for it."""
        try:
            flight.result = self._refresh(now)
        except BaseException as exc:
            flight.error = exc
        finally:
            with self._lock:
                self._flight = None
            flight.done.set()

    def _refresh(self, now: datetime) -> Credentials:
        current = self.peek(now)
        if current is not None:
            return current  # refreshed by a flight that ended since this request looked
        try:
            fresh = self._fetch()
        except NoCredentialsError:
            raise
        except CredentialsRefreshError as exc:
            return self._fallback(now, exc)
        except ConfigurationError:
            raise
        except Exception as exc:
            error = CredentialsRefreshError(
                f"the credentials provider raised {type(exc).__name__} while refreshing"
            )
            error.__cause__ = exc
            return self._fallback(now, error)
        if fresh.expired(now):
            raise CredentialsExpiredError(
                f"the credentials provider returned credentials for access key "
                f"{fresh.access_key_id} that expired at {fresh.expiry:%Y-%m-%dT%H:%M:%SZ}"
            )
        if fresh.expiry is not None or self._provider is None:
            self._cached = fresh
        short = fresh.expiry is not None and fresh.expired(now, margin=ADVISORY_REFRESH)
        self._retry_at = now + REFRESH_RETRY if short else None
        return fresh

    def _fetch(self) -> Credentials:
        if self._provider is not None:
            return _to_credentials(self._provider.get_credentials(), "the credentials provider")
        from_env = credentials_from_environ()
        if from_env is not None:
            self._resolved = True
            return from_env
        try:
            chain = _botocore_default_chain()
        except Exception as exc:
            raise CredentialsRefreshError(
                f"botocore's credential chain failed ({type(exc).__name__}); "
                "check AWS_PROFILE and the shared config files"
            ) from exc
        if chain is None:
            raise NoCredentialsError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(and AWS_SESSION_TOKEN), configure a profile, or pass credentials="
            )
        snapshot = _to_credentials(chain, "botocore's credential chain")
        if hasattr(chain, "refresh_needed"):
            # Refreshable (SSO, assume-role, container, IMDS...): ask botocore again as
            # expiry nears. Static keys from a profile are kept like Credentials passed in.
            self._provider = _BotocoreCredentials(chain)
        self._resolved = True
        return snapshot

    def _fallback(self, now: datetime, error: CredentialsRefreshError) -> Credentials:
        cached = self._cached
        if cached is not None and not cached.expired(now, margin=MANDATORY_REFRESH):
            logger.warning("credentials refresh failed; using the current ones until near expiry")
            self._retry_at = now + REFRESH_RETRY
            return cached
        raise error


class _Flight:
    """One refresh in progress: its outcome, for every request waiting on it."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Credentials | None = None
        self.error: BaseException | None = None

    def outcome(self, timeout: float | None) -> Credentials:
        if not self.done.wait(timeout):
            assert timeout is not None
            raise fetch_timed_out(timeout)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class _Workers:
    """Daemon threads for refreshes a request may stop waiting for.

    Reused, so that a provider asked on every request (credentials without an
    expiry) costs a hand-off, not a new thread; daemon threads, so that a provider
    that never returns cannot keep the interpreter from exiting (a
    ``ThreadPoolExecutor``'s threads would). Idle ones wait for the next refresh.
    """

    __slots__ = ("_idle", "_jobs", "_lock")

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def run(self, job: Callable[[], None]) -> None:
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1  # that worker is now spoken for
        if spawn:
            threading.Thread(
                target=self._work, name="lattice-client credentials refresh", daemon=True
            ).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            self._jobs.get()()  # _fly: never raises
            with self._lock:
                self._idle += 1


_workers = _Workers()


def fetch_timed_out(timeout: float) -> CredentialsTimeoutError:
    """The error for a request that waited ``timeout`` seconds for credentials, in vain."""
    return CredentialsTimeoutError(
        f"fetching credentials took longer than the request's timeout ({timeout:g} s); "
        "the fetch goes on in the background and a later request will use it"
    )


def with_role(
    credentials: CredentialsLike,
    *,
    role_arn: str | None,
    role_session_name: str | None = None,
    external_id: str | None = None,
    duration: timedelta | int | None = None,
) -> CredentialsLike:
    """``credentials`` as given or, with ``role_arn``, a provider of that role's credentials
    assumed with them; what every public constructor does with its role options."""
    if role_arn is None:
        if role_session_name is not None or external_id is not None or duration is not None:
            raise ConfigurationError(
                "role_session_name=, external_id= and duration= apply to an assumed role: "
                "pass role_arn= too"
            )
        return credentials
    # Imported here: only a configured role needs STS, and so botocore.
    from ._roles import AssumeRoleProvider

    return AssumeRoleProvider(
        role_arn,
        credentials=credentials,
        role_session_name=role_session_name,
        external_id=external_id,
        duration=duration,
    )


class _BotocoreCredentials:
    """Adapts a botocore credentials object found by the default chain to a provider."""

    __slots__ = ("_credentials",)

    def __init__(self, credentials: object) -> None:
        self._credentials = credentials

    def get_credentials(self) -> object:
        return self._credentials
