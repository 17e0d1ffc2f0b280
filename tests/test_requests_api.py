"""The requests and aiohttp adapters' public surface, and what importing them costs."""

from __future__ import annotations

import logging
import subprocess
import sys

import aiohttp
import pytest

import lattice_client.aiohttp
import lattice_client.requests


@pytest.mark.parametrize("module", [lattice_client.requests, lattice_client.aiohttp])
def test_all_is_sorted_and_every_name_exists(module: object) -> None:
    """Each adapter module's ``__all__`` is sorted, and each name in it resolves."""
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(set(names))
    for name in names:
        assert hasattr(module, name), name


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_importing_lattice_client_imports_neither_library() -> None:
    """``import lattice_client`` (and handling an httpx response) loads no requests or aiohttp."""
    loaded = _run(
        "import sys, httpx, lattice_client\n"
        "r = httpx.Response(200, request=httpx.Request('GET', 'https://x'))\n"
        "lattice_client.raise_for_status(r)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'requests', 'aiohttp'}))"
    )
    assert loaded == "[]"


@pytest.mark.parametrize(
    ("module", "library", "extra"),
    [
        ("lattice_client.requests", "requests", "requests"),
        ("lattice_client.aiohttp", "aiohttp", "aiohttp"),
    ],
)
def test_a_missing_library_names_the_extra(module: str, library: str, extra: str) -> None:
    """Without the library, importing the adapter raises MissingDependencyError naming the extra."""
    said = _run(
        f"import sys; sys.modules[{library!r}] = None\n"
        "import lattice_client\n"
        "try:\n"
        f"    import {module}\n"
        "except lattice_client.MissingDependencyError as error:\n"
        "    print(type(error).__name__, error.extra, isinstance(error, ImportError))\n"
    )
    assert said == f"MissingDependencyError {extra} True"


def test_raise_for_status_refuses_what_is_no_response() -> None:
    """Anything but an httpx, requests or aiohttp response is a ConfigurationError."""
    with pytest.raises(lattice_client.ConfigurationError, match=r"requests\.Response"):
        lattice_client.raise_for_status(object())  # type: ignore[type-var]


def test_the_quickstart_calls_through_requests_and_aiohttp(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``lattice-client quickstart`` shows one signed call through each adapter."""
    from lattice_client._cli import main

    assert main(["quickstart"]) == 0
    out = capsys.readouterr().out
    assert "4. requests (lattice_client.requests.Session): PUT /invoices/7 -> 200" in out
    assert "5. aiohttp (lattice_client.aiohttp.ClientSession): DELETE /invoices/7 -> 200" in out
    assert "6. A caller the policy does not allow -> 403" in out


def test_no_secret_in_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    """With DEBUG logging on, a signed call and a denied one through each adapter leave no
    secret key, token or signature in the logs, the reprs or the error messages."""
    import asyncio

    from _adapters_support import READER_ONLY, STRANGER, echo_app

    from lattice_client.testing import LocalLattice

    caplog.set_level(logging.DEBUG)
    creds = STRANGER.credentials
    texts: list[str] = []
    with LocalLattice(app=echo_app, principals=[STRANGER], auth_policy=READER_ONLY) as lattice:
        with lattice_client.requests.Session(credentials=creds, region=lattice.region) as s:
            response = s.get(f"{lattice.url}/denied")
            texts += [repr(s.get_adapter(lattice.url)), repr(response.request.headers)]
            with pytest.raises(lattice_client.AccessDeniedError) as caught:
                lattice_client.raise_for_status(response)
            texts += [str(caught.value), repr(caught.value)]
            signature = str(response.request.headers["authorization"]).rpartition("=")[2]

        async def aio() -> None:
            signer = lattice_client.aiohttp.SigningMiddleware(
                credentials=creds, region=lattice.region
            )
            texts.append(repr(signer))
            async with (
                aiohttp.ClientSession(middlewares=[signer]) as s,
                s.get(f"{lattice.url}/denied") as response,
            ):
                with pytest.raises(lattice_client.AccessDeniedError) as caught:
                    await lattice_client.araise_for_status(response)
                texts.extend([str(caught.value), repr(caught.value)])

        asyncio.run(aio())
    texts += [record.getMessage() for record in caplog.records]
    everything = "\n".join(texts)
    assert creds.secret_access_key not in everything
    assert creds.session_token is not None
    assert creds.session_token not in everything
    assert signature not in everything
