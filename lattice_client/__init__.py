"""lattice-client: call Amazon VPC Lattice services from Python, signed right the first time."""

from __future__ import annotations

from ._api import sign
from ._credentials import Credentials, CredentialsProvider, CredentialsSource
from ._exceptions import (
    ConfigurationError,
    CredentialsError,
    CredentialsExpiredError,
    CredentialsRefreshError,
    InvalidHeaderError,
    LatticeError,
    MissingDependencyError,
    NoCredentialsError,
    NoRegionError,
    SigningError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ConfigurationError",
    "Credentials",
    "CredentialsError",
    "CredentialsExpiredError",
    "CredentialsProvider",
    "CredentialsRefreshError",
    "CredentialsSource",
    "InvalidHeaderError",
    "LatticeError",
    "MissingDependencyError",
    "NoCredentialsError",
    "NoRegionError",
    "SigningError",
    "__version__",
    "sign",
]
