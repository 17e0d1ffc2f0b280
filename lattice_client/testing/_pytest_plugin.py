"""pytest plugin (entry point ``pytest11``): the ``local_lattice`` fixture.

Loaded by every pytest run in an environment where lattice-client is installed,
so it imports nothing but pytest up front: the stand-in and its dependencies
load when a test first asks for the fixture.

Point it at your code by overriding ``local_lattice_app`` (an ASGI or WSGI app)
or ``local_lattice_target`` (a URL), and configure it per test with
``@pytest.mark.local_lattice(**LocalLattice keyword arguments)``. The
``local_service_network`` fixture serves a `LocalServiceNetwork` configured by
``@pytest.mark.local_service_network(config=..., **keyword arguments)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lattice_client.testing import LocalLattice, LocalServiceNetwork


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "local_lattice(**options): keyword arguments for the local_lattice fixture's "
        "LocalLattice (auth_policy=, principals=, rules=, auth_type=, tls=...)",
    )
    config.addinivalue_line(
        "markers",
        "local_service_network(config=None, **options): the local_service_network fixture's "
        "LocalServiceNetwork: config= a JSON file or mapping, options its keyword arguments",
    )


@pytest.fixture
def local_lattice_app() -> Any:
    """The ASGI or WSGI app the ``local_lattice`` fixture serves behind it; override it."""
    return None


@pytest.fixture
def local_lattice_target() -> str | None:
    """The URL the ``local_lattice`` fixture forwards to, when there is no app; override it."""
    return None


@pytest.fixture
def local_lattice(
    request: pytest.FixtureRequest, local_lattice_app: Any, local_lattice_target: str | None
) -> Iterator[LocalLattice]:
    """A running local Lattice; use its ``url``, ``region`` and ``credentials`` to call it."""
    from lattice_client.testing import LocalLattice

    marker = request.node.get_closest_marker("local_lattice")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    with LocalLattice(local_lattice_target, app=local_lattice_app, **options) as lattice:
        yield lattice


@pytest.fixture
def local_service_network(request: pytest.FixtureRequest) -> Iterator[LocalServiceNetwork]:
    """A running local service network, configured by the ``local_service_network`` marker:
    ``config=`` (a JSON file or mapping, as for ``lattice-local --network``) and/or
    `LocalServiceNetwork` keyword arguments (``services=[Service(...)]``, ``auth_policy=``...)."""
    from lattice_client.testing import LocalServiceNetwork

    marker = request.node.get_closest_marker("local_service_network")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    config = options.pop("config", None)
    if config is None and "services" not in options:
        raise pytest.UsageError(
            "the local_service_network fixture needs @pytest.mark.local_service_network("
            "services=[...]) or (config=...)"
        )
    network = (
        LocalServiceNetwork.from_config(config, **options)
        if config is not None
        else LocalServiceNetwork(**options)
    )
    with network:
        yield network
