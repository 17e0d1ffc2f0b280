"""Everything lattice-client raises, as one tree.

    LatticeError
    ├── ConfigurationError          (also ValueError) a bad option or a missing setting
    │   └── NoRegionError           no region for SigV4 and none configured
    ├── MissingDependencyError      (also ImportError) an optional extra is not installed
    ├── CredentialsError            credentials could not be had or used
    │   ├── NoCredentialsError      nothing found in the environment or botocore's chain
    │   ├── CredentialsExpiredError the credentials in hand are past their expiry
    │   └── CredentialsRefreshError the provider failed while refreshing
    │       └── CredentialsTimeoutError (also TimeoutError) not within the request's timeout
    ├── SigningError                (also ValueError) this request cannot be signed
    │   └── InvalidHeaderError      a header name or value that HTTP cannot carry
    ├── AsyncResponseError          (also TypeError) a sync call given an unread async response
    ├── LatticeHeadersError         (also ValueError) x-amzn-lattice-* headers repeated or joined
    ├── ServiceNameNotResolvedError a generated Lattice name did not resolve from here
    ├── BodyNotReplayableError      (also RuntimeError) a redirect, clock-skew re-send or retry
    │                               would send a streamed body again; nothing was sent
    └── LatticeResponseError        an error answer (4xx/5xx) from Lattice or the service behind it
        ├── AccessDeniedError       403 AccessDeniedException: an auth policy or IAM said no
        ├── SignatureError          Lattice refused the request's signature
        │   ├── InvalidSignatureError     InvalidSignatureException (mismatch, signed payload)
        │   ├── IncompleteSignatureError  IncompleteSignatureException (a part is missing)
        │   └── SignatureExpiredError     expired or not yet valid: clock skew or a late send
        ├── NotFoundError           404: a fixed-response rule, or the target's own 404
        ├── InternalServerError     500: a fixed-response rule, or the target's own 500
        └── ServiceUnavailableError 502, 503 or 504: no healthy target, timeout, overload

The response errors above do not depend on httpx, so other transports (gRPC,
``requests`` via ``lattice_client.error_from_response``) raise them too. What
``raise_for_status`` and the clients raise for an ``httpx.Response`` is an
httpx flavour of the same class, one per class in ``_responses.py``, that also
subclasses ``httpx.HTTPStatusError`` (with its ``request`` and ``response``):
``except lattice_client.AccessDeniedError`` and ``except httpx.HTTPStatusError``
both catch it.

The optional subpackages hang their errors on the same tree:

    lattice_client.aws_lambda  InvalidEventError and InvalidResponseError (also
                               ValueError), DeadlineExceededError (also TimeoutError)
                               and LayerBuildError, each directly under the root
    lattice_client.grpc        LatticeRpcError and its per-class flavours: each is the
                               response error above (AccessDeniedError...) and also
                               grpc.RpcError (grpc.aio.AioRpcError in grpc.aio)
    lattice_client.testing     PolicyError (a ConfigurationError): an auth policy the
                               local stand-in cannot evaluate

No message here ever includes a secret access key, a session token or an
``Authorization`` value: they are built from names, hosts and key ids only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "AccessDeniedError",
    "AsyncResponseError",
    "BodyNotReplayableError",
    "ConfigurationError",
    "CredentialsError",
    "CredentialsExpiredError",
    "CredentialsRefreshError",
    "CredentialsTimeoutError",
    "IncompleteSignatureError",
    "InternalServerError",
    "InvalidHeaderError",
    "InvalidSignatureError",
    "LatticeError",
    "LatticeHeadersError",
    "LatticeResponseError",
    "MissingDependencyError",
    "NoCredentialsError",
    "NoRegionError",
    "NotFoundError",
    "ServiceNameNotResolvedError",
    "ServiceUnavailableError",
    "SignatureError",
    "SignatureExpiredError",
    "SigningError",
]


class LatticeError(Exception):
    """Base class of every exception lattice-client raises."""


class ConfigurationError(LatticeError, ValueError):
    """An option or setting is missing or invalid; the message names it."""


class NoRegionError(ConfigurationError):
    """SigV4 needs a region and none could be derived from the host or the configuration."""

    def __init__(self, message: str, *, host: str) -> None:
        super().__init__(message)
        self.host = host


class MissingDependencyError(LatticeError, ImportError):
    """A feature needs an optional extra that is not installed; the message says which."""

    def __init__(self, feature: str, *, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional dependency {module!r}, which is not installed. "
            f"Install it with: pip install 'vpc-lattice-client[{extra}]'",
            name=module,
        )
        self.extra = extra


class CredentialsError(LatticeError):
    """Credentials could not be found, refreshed or used."""


class NoCredentialsError(CredentialsError):
    """No credentials in the environment variables, the shared files or botocore's chain."""


class CredentialsExpiredError(CredentialsError):
    """The only credentials at hand are expired; signing with them would be refused."""


class CredentialsRefreshError(CredentialsError):
    """The credentials provider raised while fetching or refreshing credentials."""


class CredentialsTimeoutError(CredentialsRefreshError, TimeoutError):
    """Fetching credentials took longer than the request's timeout allowed."""


class SigningError(LatticeError, ValueError):
    """The request cannot be signed as given; the message says what to change."""


class InvalidHeaderError(SigningError):
    """A header name or value cannot be sent over HTTP (control characters, bad name...)."""

    def __init__(self, message: str, *, header: str) -> None:
        super().__init__(message)
        self.header = header


class AsyncResponseError(LatticeError, TypeError):
    """A sync function was given an async response whose body it would have to read."""


class LatticeHeadersError(LatticeError, ValueError):
    """A target got Lattice's identity headers twice or joined: trust neither copy.

    Lattice strips callers' copies, so this means something in front of the target
    (a proxy, or a server folding ``_`` into ``-``) let a caller's copy through.
    """


class ServiceNameNotResolvedError(LatticeError):
    """A generated Lattice service name did not resolve: it resolves only inside associated VPCs.

    The httpx flavour raised by the transports is also an ``httpx.ConnectError``.
    ``host`` is the name that did not resolve.
    """

    host: str | None = None


class BodyNotReplayableError(LatticeError, RuntimeError):
    """The request would have to be sent again, and its body is a stream already sent once.

    Raised before anything is sent again: on a 307/308 redirect, a re-send after
    Lattice refused our clock, or a retry. ``reason`` says which (``"redirect"``,
    ``"clock skew"`` or ``"retry"``). When an error answer asked for the re-send,
    the exception is also that answer's typed error (a `SignatureExpiredError`,
    a `ServiceUnavailableError`...) with its fields. Pass the body as bytes or a
    seekable file (rewound to where it started), or turn the re-send off.
    """

    reason: str = "redirect"


class LatticeResponseError(LatticeError):
    """An error answer (4xx or 5xx), from Lattice itself or from the service behind it.

    ``status_code`` is the HTTP status; ``error_code`` the exception name Lattice
    put before its message (``"AccessDeniedException"``), or None (not ``code``,
    which a gRPC flavour's ``grpc.RpcError.code()`` needs); ``body`` the
    start of the body (at most 64 KiB) as received. ``evidently_from_lattice``
    is True when the body has the shape of one of Lattice's own answers, so the
    request never reached the target. ``response`` is the ``httpx.Response``
    for errors raised by ``raise_for_status`` and the clients, else None.
    ``attempts`` is how many times the request was sent (more than 1 when
    retries were turned on and ran out).
    """

    attempts: int = 1

    # Any, not "httpx.Response | None": the httpx flavours are also
    # httpx.HTTPStatusError, whose ``response: httpx.Response`` a type checker
    # would find incompatible; and this module does not import httpx.
    response: Any

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 0,
        error_code: str | None = None,
        evidently_from_lattice: bool = False,
        body: bytes = b"",
    ) -> None:
        # Not super().__init__: the httpx flavours put httpx.HTTPStatusError
        # (whose __init__ wants request= and response=) next in the MRO.
        Exception.__init__(self, message)
        self.status_code = status_code
        self.error_code = error_code
        self.evidently_from_lattice = evidently_from_lattice
        self.body = body
        self.response = None


class AccessDeniedError(LatticeResponseError):
    """Lattice denied the call (403 ``AccessDeniedException``); the message says what to fix.

    ``principal`` is the caller's ARN as Lattice saw it (None for an unsigned
    request, when ``anonymous`` is True); ``resource`` the full ARN of what was
    called (``service_arn`` plus ``path``); ``policy_type`` which policy said no
    (``"identity-based"``, ``"service-based"`` or ``"network-based"``);
    ``explicit_deny`` whether a Deny statement matched, rather than no Allow.
    Fields the message did not carry are None.
    """

    def __init__(
        self,
        message: str,
        *,
        principal: str | None = None,
        anonymous: bool = False,
        action: str | None = None,
        resource: str | None = None,
        service_arn: str | None = None,
        path: str | None = None,
        policy_type: str | None = None,
        explicit_deny: bool = False,
        status_code: int = 403,
        error_code: str | None = "AccessDeniedException",
        evidently_from_lattice: bool = False,
        body: bytes = b"",
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            error_code=error_code,
            evidently_from_lattice=evidently_from_lattice,
            body=body,
        )
        self.principal = principal
        self.anonymous = anonymous
        self.action = action
        self.resource = resource
        self.service_arn = service_arn
        self.path = path
        self.policy_type = policy_type
        self.explicit_deny = explicit_deny


class SignatureError(LatticeResponseError):
    """Lattice refused the request's SigV4 signature."""


class InvalidSignatureError(SignatureError):
    """``InvalidSignatureException``: the signature does not match, or the payload was signed."""


class IncompleteSignatureError(SignatureError):
    """``IncompleteSignatureException``: a signed header or a signature part is missing."""


class SignatureExpiredError(SignatureError):
    """The signature is expired or not yet valid: the clocks disagree, or the send was late.

    ``server_time`` is Lattice's time (its ``Date`` header, else the time in its
    message), ``signed_at`` the request's ``x-amz-date``, and ``skew`` how far
    the signature's time is behind Lattice's (negative: ahead); each None when
    unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        server_time: datetime | None = None,
        signed_at: datetime | None = None,
        status_code: int = 403,
        error_code: str | None = None,
        evidently_from_lattice: bool = False,
        body: bytes = b"",
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            error_code=error_code,
            evidently_from_lattice=evidently_from_lattice,
            body=body,
        )
        self.server_time = server_time
        self.signed_at = signed_at

    @property
    def skew(self) -> timedelta | None:
        """Lattice's time minus the signature's time, or None when either is unknown."""
        if self.server_time is None or self.signed_at is None:
            return None
        return self.server_time - self.signed_at


class NotFoundError(LatticeResponseError):
    """404: a listener rule's fixed response, or the target's own 404."""


class InternalServerError(LatticeResponseError):
    """500: a listener rule's fixed response, or the target's own 500."""


class ServiceUnavailableError(LatticeResponseError):
    """502, 503 or 504: no healthy target, a target timeout, or an overloaded target."""
