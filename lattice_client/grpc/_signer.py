"""One signer per channel: where it signs for (authority, region) and the metadata for a call."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from lattice_client import _policy
from lattice_client._credentials import Credentials, CredentialsLike, fetch_timed_out
from lattice_client._exceptions import ConfigurationError
from lattice_client._lattice import ANY_REGION, SIGNING_NAME
from lattice_client._signing import SIGNER_HEADERS, sign_request
from lattice_client._validate import check_host

Metadatum = tuple[str, str | bytes]

# Metadata the signer owns: a caller's copies are dropped, never sent beside ours.
_SIGNER_METADATA = SIGNER_HEADERS | {"authorization"}
_UTC = timezone.utc
# Methods whose current signature is kept; a channel rarely calls more.
_MEMO_SIZE = 256
# Resolver schemes grpc accepts in a target (grpc/doc/naming.md); anything else is host:port.
_SCHEME = re.compile(r"^(dns|ipv4|ipv6|unix|unix-abstract|vsock|xds):", re.IGNORECASE)


def authority_from_target(target: str) -> str:
    """The host of a grpc target without its port: what Lattice expects as ``:authority``."""
    rest = target.strip()
    match = _SCHEME.match(rest)
    if match:
        scheme = match.group(1).lower()
        if scheme in ("unix", "unix-abstract", "vsock"):
            raise ConfigurationError(
                f"the target {target!r} names no host; pass authority= with the Lattice "
                "service's host name (for example billing-0123.7d67968.vpc-lattice-svcs."
                "us-west-2.on.aws)"
            )
        rest = rest[match.end() :]
        if rest.startswith("//"):
            # dns://<dns server>/<host:port>: the part after the DNS server is the name.
            rest = rest[2:].partition("/")[2]
        rest = rest.lstrip("/").split(",")[0]
    host = _strip_port(rest)
    if not host:
        raise ConfigurationError(f"the target {target!r} has no host; use host:port")
    return host.lower()


def _strip_port(hostport: str) -> str:
    if hostport.startswith("["):
        return hostport.partition("]")[0] + "]"
    return hostport.partition(":")[0] if hostport.count(":") == 1 else hostport


def check_authority(authority: str) -> str:
    """``authority`` lowercased; refused when empty or carrying a port, which Lattice rejects."""
    if not isinstance(authority, str) or not authority.strip():
        raise ConfigurationError("authority must be the Lattice service's host name, not empty")
    authority = authority.strip().lower()
    if _strip_port(authority) != authority:
        raise ConfigurationError(
            f"authority {authority!r} carries a port; Lattice needs the host alone "
            f"({_strip_port(authority)!r}) as :authority and as the signed host"
        )
    check_host(authority, f"authority={authority!r}", ConfigurationError)
    return authority


def resolve_region(
    authority: str, region: str | None, *, sigv4a: bool, credentials: object = None
) -> str:
    """The SigV4 region for ``authority``, by the one rule of every entry point.

    See `lattice_client._policy.RegionRule`: a generated name's region (``region=``
    that contradicts it is a `ConfigurationError`), else ``region=``, else
    ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else a botocore/boto3 session's.
    """
    return _policy.resolve_region(authority, region, sigv4a=sigv4a, credentials=credentials)


class CallSigner:
    """Signs each gRPC call for one authority: ``POST https://<authority>/<Service>/<Method>``.

    Shared by every interceptor of a channel, sync or aio. Thread-safe: the
    credentials source is, and the only state that changes after construction
    (the current signature per method, the pending aio refresh) is replaced by
    single assignments, never updated in place.
    """

    __slots__ = (
        "_memo",
        "_pending",
        "_region_set",
        "_service",
        "_sigv4a",
        "_source",
        "authority",
        "policy",
        "region",
    )

    def __init__(
        self,
        authority: str,
        *,
        credentials: CredentialsLike,
        region: str | None,
        sigv4a: bool,
        region_set: str,
        service: str,
    ) -> None:
        self.authority = check_authority(authority)
        if not isinstance(service, str) or not service:
            raise ConfigurationError("service= must be a signing name such as 'vpc-lattice-svcs'")
        # The same policy as the HTTP adapters: its region rule, applied once to the
        # channel's authority (gRPC has no redirects), and its credentials source.
        self.policy = _policy.SigningPolicy(
            credentials=credentials,
            region=region,
            service=service,
            sigv4a=bool(sigv4a),
            region_set=region_set,
        )
        self.region = self.policy.region_for(self.authority)
        self._source = self.policy.source
        self._sigv4a = bool(sigv4a)
        self._region_set = region_set
        self._service = service
        self._pending: asyncio.Future[Credentials] | None = None
        self._memo: dict[str, tuple[int, tuple[Metadatum, ...]]] = {}

    def __repr__(self) -> str:
        kind = "SigV4A" if self._sigv4a else f"SigV4 {self.region}"
        return f"<CallSigner {self.authority} {kind}>"

    def metadata(
        self, method: str, metadata: Iterable[Metadatum] | None, timeout: float | None = None
    ) -> Sequence[Metadatum]:
        """The call's metadata with a signature for now; may block to refresh credentials,
        for the call's ``timeout`` at most."""
        added = self.signature(method, int(time.time()), timeout)
        return self._merged(metadata, added) if metadata else added

    def signature(
        self, method: str, second: int, timeout: float | None = None
    ) -> tuple[Metadatum, ...]:
        """As `signature_without_io`, but may block to refresh credentials (``timeout`` at most)."""
        added = self.signature_without_io(method, second)
        if added is None:
            now = datetime.fromtimestamp(second, _UTC)
            added = self._sign(method, self._source.get(now, timeout), now, second)
        return added

    def metadata_without_io(
        self, method: str, metadata: Iterable[Metadatum] | None
    ) -> Sequence[Metadatum] | None:
        """As `metadata` when the credentials in hand will do; None when they need I/O."""
        added = self.signature_without_io(method, int(time.time()))
        if added is None:
            return None
        return self._merged(metadata, added) if metadata else added

    def signature_without_io(self, method: str, second: int) -> tuple[Metadatum, ...] | None:
        """The metadata that signs a call to ``method`` in ``second`` (a Unix time), the
        same object for every call that second; None when the credentials need I/O."""
        memo = self._memo.get(method)
        if memo is not None and memo[0] == second:
            return memo[1]
        now = datetime.fromtimestamp(second, _UTC)
        credentials = self._source.peek(now)
        if credentials is None:
            return None
        return self._sign(method, credentials, now, second)

    async def metadata_async(
        self, method: str, metadata: Iterable[Metadatum] | None, timeout: float | None = None
    ) -> Sequence[Metadatum]:
        """As `metadata`, but a refresh runs in a worker thread, one at a time per signer."""
        signed = self.metadata_without_io(method, metadata)
        if signed is not None:
            return signed
        second = int(time.time())
        credentials = await self._refresh(datetime.fromtimestamp(second, _UTC), timeout)
        second = int(time.time())
        added = self._sign(method, credentials, datetime.fromtimestamp(second, _UTC), second)
        return self._merged(metadata, added) if metadata else added

    async def _refresh(self, now: datetime, timeout: float | None) -> Credentials:
        loop = asyncio.get_running_loop()
        pending = self._pending
        if pending is None or pending.done() or pending.get_loop() is not loop:
            # Concurrent calls wait for this one refresh instead of each taking a thread.
            pending = loop.run_in_executor(None, self._source.get, now)
            self._pending = pending
        # Shielded: a caller cancelled or timed out meanwhile must not cancel the
        # others' refresh. Each call waits no longer than its own timeout.
        try:
            return await asyncio.wait_for(asyncio.shield(pending), timeout)
        except asyncio.TimeoutError:
            assert timeout is not None
            raise fetch_timed_out(timeout) from None

    def _sign(
        self, method: str, credentials: Credentials, now: datetime, second: int
    ) -> tuple[Metadatum, ...]:
        added = tuple(
            sign_request(
                "POST",
                self.authority,
                method,
                "",
                (),
                credentials=credentials,
                region=self.region,
                service=self._service,
                now=now,
                sigv4a=self._sigv4a,
                region_set=self._region_set,
            ).headers.items()
        )
        # A SigV4 signature covers the method, the host and x-amz-date, which has
        # one-second resolution: every call to this method in this second gets the
        # very same bytes, so they are computed once per second, not once per call.
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        self._memo[method] = (second, added)
        return added

    @staticmethod
    def _merged(metadata: Iterable[Metadatum], added: tuple[Metadatum, ...]) -> list[Metadatum]:
        kept = [item for item in metadata if item[0].lower() not in _SIGNER_METADATA]
        kept.extend(added)
        return kept


def signer_for(
    authority: str,
    *,
    credentials: CredentialsLike,
    region: str | None,
    sigv4a: bool,
    region_set: str = ANY_REGION,
    service: str = SIGNING_NAME,
) -> CallSigner:
    """Build a `CallSigner`; every public entry point goes through here."""
    return CallSigner(
        authority,
        credentials=credentials,
        region=region,
        sigv4a=sigv4a,
        region_set=region_set,
        service=service,
    )


def with_default_authority(
    options: Sequence[tuple[str, object]], authority: str
) -> list[tuple[str, object]]:
    """Channel options with ``grpc.default_authority`` set to ``authority``, the signed host."""
    merged = [option for option in options if option[0] != "grpc.default_authority"]
    merged.append(("grpc.default_authority", authority))
    return merged
