"""The exception tree: one documented hierarchy, with httpx flavours of the response errors."""

from __future__ import annotations

import inspect
import pickle

import httpx
import pytest

import lattice_client
from lattice_client import _exceptions
from lattice_client._responses import HTTPX_FLAVOURS

CLASSES = [getattr(_exceptions, name) for name in _exceptions.__all__]
RESPONSE_CLASSES = [c for c in CLASSES if issubclass(c, lattice_client.LatticeResponseError)]


def test_the_docstring_tree_lists_every_class() -> None:
    """The tree in the module docstring names each class, indented under its parent."""
    doc = inspect.getdoc(_exceptions) or ""
    lines = [line for line in doc.splitlines() if "LatticeError" in line or "──" in line]
    named = {line.replace("│", " ").split("── ")[-1].split()[0] for line in lines}
    assert named == {cls.__name__ for cls in CLASSES}
    depth = {
        line.replace("│", " ").split("── ")[-1].split()[0]: len(line) - len(line.lstrip(" │├└─"))
        for line in lines
    }
    for cls in CLASSES:
        if cls is not lattice_client.LatticeError:
            parent = cls.__mro__[1]
            assert depth[cls.__name__] > depth[parent.__name__], cls


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_class_is_a_lattice_error_exported_at_the_top(cls: type[Exception]) -> None:
    """Everything raised derives from LatticeError and is importable from lattice_client."""
    assert issubclass(cls, lattice_client.LatticeError)
    assert getattr(lattice_client, cls.__name__) is cls
    assert cls.__doc__


def test_misuse_errors_keep_their_builtin_meaning() -> None:
    """Misuse errors also subclass the builtin a caller would catch for them."""
    assert issubclass(lattice_client.ConfigurationError, ValueError)
    assert issubclass(lattice_client.AsyncResponseError, TypeError)
    assert not issubclass(lattice_client.LatticeResponseError, ValueError | TypeError)


def test_response_hierarchy() -> None:
    """The response errors nest as the issue lists them."""
    assert issubclass(lattice_client.AccessDeniedError, lattice_client.LatticeResponseError)
    for signature in (
        lattice_client.InvalidSignatureError,
        lattice_client.IncompleteSignatureError,
        lattice_client.SignatureExpiredError,
    ):
        assert issubclass(signature, lattice_client.SignatureError)
    for status_error in (
        lattice_client.NotFoundError,
        lattice_client.InternalServerError,
        lattice_client.ServiceUnavailableError,
        lattice_client.SignatureError,
    ):
        assert issubclass(status_error, lattice_client.LatticeResponseError)


@pytest.mark.parametrize("cls", RESPONSE_CLASSES, ids=lambda c: c.__name__)
def test_base_classes_do_not_depend_on_httpx(cls: type[Exception]) -> None:
    """A base response error is no httpx.HTTPStatusError, so gRPC flavours are not caught as one."""
    assert not issubclass(cls, httpx.HTTPStatusError)


@pytest.mark.parametrize("cls", RESPONSE_CLASSES, ids=lambda c: c.__name__)
def test_each_response_class_has_an_httpx_flavour(
    cls: type[lattice_client.LatticeResponseError],
) -> None:
    """The httpx flavour is caught as the Lattice class and as httpx.HTTPStatusError."""
    flavour = HTTPX_FLAVOURS[cls]
    assert issubclass(flavour, cls)
    assert issubclass(flavour, httpx.HTTPStatusError)
    assert flavour.__name__ == cls.__name__


def test_a_grpc_style_flavour_keeps_its_code_method() -> None:
    """Lattice's exception name is ``error_code``, so an RpcError-like ``code()`` is not hidden."""

    class _RpcLike(Exception):
        def code(self) -> str:
            return "PERMISSION_DENIED"

    class _Flavour(lattice_client.AccessDeniedError, _RpcLike):
        pass

    error = _Flavour("denied", error_code="AccessDeniedException", status_code=403)
    assert error.code() == "PERMISSION_DENIED"
    assert error.error_code == "AccessDeniedException"
    assert isinstance(error, lattice_client.AccessDeniedError)


@pytest.mark.parametrize("cls", RESPONSE_CLASSES, ids=lambda c: c.__name__)
def test_response_errors_build_from_a_message_alone_and_pickle(cls: type[Exception]) -> None:
    """Every field has a default, so users can raise them in their tests and pickle them."""
    error = cls("what went wrong")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 -- our own bytes
    assert type(copy) is cls
    assert str(copy) == "what went wrong"
    assert vars(copy) == vars(error)


def test_access_denied_attributes() -> None:
    """AccessDeniedError carries exactly the fields the issue lists, plus the base ones."""
    error = lattice_client.AccessDeniedError("denied", anonymous=True, policy_type="service-based")
    assert set(vars(error)) == {
        "principal",
        "anonymous",
        "action",
        "resource",
        "service_arn",
        "path",
        "policy_type",
        "explicit_deny",
        "status_code",
        "error_code",
        "evidently_from_lattice",
        "body",
        "response",
    }
    assert error.status_code == 403
    assert error.principal is None
    assert error.anonymous


def test_signature_expired_skew() -> None:
    """The skew is Lattice's time minus the signature's, None while either is unknown."""
    from datetime import datetime, timedelta, timezone

    signed = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert lattice_client.SignatureExpiredError("x").skew is None
    error = lattice_client.SignatureExpiredError(
        "x", signed_at=signed, server_time=signed - timedelta(minutes=10)
    )
    assert error.skew == timedelta(minutes=-10)
