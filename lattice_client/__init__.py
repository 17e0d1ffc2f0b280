"""lattice-client: call Amazon VPC Lattice services from Python, signed right the first time."""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._credentials import Credentials, CredentialsProvider, CredentialsSource
from ._exceptions import (
    AccessDeniedError,
    AsyncResponseError,
    BodyNotReplayableError,
    ConfigurationError,
    CredentialsError,
    CredentialsExpiredError,
    CredentialsRefreshError,
    CredentialsTimeoutError,
    IncompleteSignatureError,
    InternalServerError,
    InvalidHeaderError,
    InvalidSignatureError,
    LatticeError,
    LatticeHeadersError,
    LatticeResponseError,
    MissingDependencyError,
    NoCredentialsError,
    NoRegionError,
    NotFoundError,
    ServiceNameNotResolvedError,
    ServiceUnavailableError,
    SignatureError,
    SignatureExpiredError,
    SigningError,
)

if _TYPE_CHECKING:
    from ._answers import error_from_response
    from ._api import sign
    from ._client import AsyncClient, Client
    from ._identity import LatticeHeaders, LatticeIdentity, parse_lattice_headers
    from ._responses import araise_for_status, raise_for_status
    from ._retries import Retries
    from ._roles import AssumeRoleProvider
    from ._transports import AsyncLatticeTransport, LatticeTransport

__version__ = "0.1.0"

# httpx costs more import time than the rest of the package (Lambda cold starts):
# the httpx integration, the parser of Lattice's answers, the identity headers a
# target reads and `sign` (the transports call the signer directly) load on first use.
_LAZY = {
    "AssumeRoleProvider": "._roles",
    "AsyncClient": "._client",
    "AsyncLatticeTransport": "._transports",
    "Client": "._client",
    "LatticeHeaders": "._identity",
    "LatticeIdentity": "._identity",
    "LatticeTransport": "._transports",
    "Retries": "._retries",
    "araise_for_status": "._responses",
    "error_from_response": "._answers",
    "parse_lattice_headers": "._identity",
    "raise_for_status": "._responses",
    "sign": "._api",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lattice_client' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "AccessDeniedError",
    "AssumeRoleProvider",
    "AsyncClient",
    "AsyncLatticeTransport",
    "AsyncResponseError",
    "BodyNotReplayableError",
    "Client",
    "ConfigurationError",
    "Credentials",
    "CredentialsError",
    "CredentialsExpiredError",
    "CredentialsProvider",
    "CredentialsRefreshError",
    "CredentialsSource",
    "CredentialsTimeoutError",
    "IncompleteSignatureError",
    "InternalServerError",
    "InvalidHeaderError",
    "InvalidSignatureError",
    "LatticeError",
    "LatticeHeaders",
    "LatticeHeadersError",
    "LatticeIdentity",
    "LatticeResponseError",
    "LatticeTransport",
    "MissingDependencyError",
    "NoCredentialsError",
    "NoRegionError",
    "NotFoundError",
    "Retries",
    "ServiceNameNotResolvedError",
    "ServiceUnavailableError",
    "SignatureError",
    "SignatureExpiredError",
    "SigningError",
    "__version__",
    "araise_for_status",
    "error_from_response",
    "parse_lattice_headers",
    "raise_for_status",
    "sign",
]
