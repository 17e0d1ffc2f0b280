"""pytest plugin (entry point ``pytest11``): the ``local_lattice`` fixture.

Loaded by every pytest run in an environment where lattice-client is installed,
so it imports nothing but pytest up front: the stand-in and its dependencies
load when a test first asks for the fixture.

Point it at your code by overriding ``local_lattice_app`` (an ASGI or WSGI app)
or ``local_lattice_target`` (a URL), and configure it per test with
``@pytest.mark.local_lattice(**LocalLattice keyword arguments)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lattice_client.testing import LocalLattice


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "local_lattice(**options): keyword arguments for the local_lattice fixture's "
        "LocalLattice (auth_policy=, principals=, rules=, auth_type=, tls=...)",
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
