"""Everything lattice-client raises, as one tree.

    LatticeError
    ├── ConfigurationError          (also ValueError) a bad option or a missing setting
    │   └── NoRegionError           no region for SigV4 and none configured
    ├── MissingDependencyError      (also ImportError) an optional extra is not installed
    ├── CredentialsError            credentials could not be had or used
    │   ├── NoCredentialsError      nothing found in the environment or botocore's chain
    │   ├── CredentialsExpiredError the credentials in hand are past their expiry
    │   └── CredentialsRefreshError the provider failed while refreshing
    └── SigningError                (also ValueError) this request cannot be signed
        └── InvalidHeaderError      a header name or value that HTTP cannot carry

No message here ever includes a secret access key, a session token or an
``Authorization`` value: they are built from names, hosts and key ids only.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "CredentialsError",
    "CredentialsExpiredError",
    "CredentialsRefreshError",
    "InvalidHeaderError",
    "LatticeError",
    "MissingDependencyError",
    "NoCredentialsError",
    "NoRegionError",
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
            f"Install it with: pip install 'lattice-client[{extra}]'",
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


class SigningError(LatticeError, ValueError):
    """The request cannot be signed as given; the message says what to change."""


class InvalidHeaderError(SigningError):
    """A header name or value cannot be sent over HTTP (control characters, bad name...)."""

    def __init__(self, message: str, *, header: str) -> None:
        super().__init__(message)
        self.header = header
