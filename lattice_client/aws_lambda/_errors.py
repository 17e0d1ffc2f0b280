"""The errors of ``lattice_client.aws_lambda``, under `lattice_client.LatticeError`.

    LatticeError
    ├── InvalidEventError       (also ValueError) not a Lattice event, or a field that is wrong
    ├── InvalidResponseError    (also ValueError) a response Lattice would refuse (too large...)
    └── DeadlineExceededError   (also TimeoutError) the invocation's time is (nearly) up

Messages name fields and types, never header values or bodies: those may carry
tokens or personal data.
"""

from __future__ import annotations

from lattice_client._exceptions import LatticeError

__all__ = ["DeadlineExceededError", "InvalidEventError", "InvalidResponseError"]


class InvalidEventError(LatticeError, ValueError):
    """The Lambda event is not a Lattice event Lattice would send; ``field`` says which part."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid Lattice event: {field} {problem}")
        self.field = field


class InvalidResponseError(LatticeError, ValueError):
    """The handler's response cannot be sent through Lattice; the message says why."""


class DeadlineExceededError(LatticeError, TimeoutError):
    """A request could not finish within the invocation's remaining time (minus the margin)."""

    def __init__(self, message: str, *, remaining: float) -> None:
        super().__init__(message)
        self.remaining = remaining
