"""The local stand-ins served on loopback from a background thread: `LocalLattice`
(one service) on the shared `DataPlane` lifecycle that `LocalServiceNetwork` also uses."""

from __future__ import annotations

import asyncio
import collections
import http
import importlib
import logging
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from lattice_client._credentials import Credentials
from lattice_client._exceptions import ConfigurationError, MissingDependencyError
from lattice_client.testing._config import AuthType, Principal, Rule, ServiceNames
from lattice_client.testing._policy import AUTHENTICATED_ONLY, AuthPolicy

if TYPE_CHECKING:
    from lattice_client.testing._proxy import Flap, LatticeProxy, NetworkPlan

__all__ = ["DataPlane", "LocalLattice"]

logger = logging.getLogger("lattice_client.testing")
access_logger = logging.getLogger("lattice_client.testing.access")

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_ACCESS_LOG_SIZE = 10_000
_CALLER_IDLE_SECONDS = 75.0

_Self = TypeVar("_Self", bound="DataPlane")


def auth_policy_for(
    auth_type: AuthType, auth_policy: str | Mapping[str, Any] | AuthPolicy | None, what: str
) -> AuthPolicy | None:
    """Check an auth type and policy pair; AWS_IAM without a policy: authenticated callers."""
    if auth_type not in ("AWS_IAM", "NONE"):
        raise ConfigurationError(f"{what} auth_type is 'AWS_IAM' or 'NONE', not {auth_type!r}")
    if auth_type == "NONE":
        if auth_policy is not None:
            raise ConfigurationError(f"{what} auth policy only applies with auth_type='AWS_IAM'")
        return None
    if auth_policy is None:
        auth_policy = AUTHENTICATED_ONLY
    return auth_policy if isinstance(auth_policy, AuthPolicy) else AuthPolicy(auth_policy)


def check_target(target: str | None, app: Any) -> None:
    if target is not None and app is not None:
        raise ConfigurationError("pass target= (a URL) or app= (an ASGI/WSGI app), not both")
    if target is not None and not target.startswith(("http://", "https://")):
        raise ConfigurationError(f"target must be an http:// or https:// URL, not {target!r}")


def check_flap(requests: object, seconds: object) -> None:
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 0:
        raise ConfigurationError(f"flap(requests=) takes a count >= 0, not {requests!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ConfigurationError(f"flap(seconds=) takes a number >= 0, not {seconds!r}")


def check_principals(principals: Iterable[Principal] | None) -> tuple[Principal, ...]:
    chosen = tuple(principals) if principals is not None else (Principal.generate(),)
    if not chosen:
        raise ConfigurationError("a local Lattice needs at least one principal")
    keys = [p.credentials.access_key_id for p in chosen]
    if len(set(keys)) != len(keys):
        raise ConfigurationError("two principals share an access key id; each needs its own")
    return chosen


class DataPlane:
    """What every local stand-in shares: principals, the loopback listener (HTTP/1.1 and
    HTTP/2, cleartext or TLS), the background thread, the apps it serves and the access log.

    Subclasses say which apps to serve (`_apps`) and what to run (`_network_plan`).
    """

    def __init__(
        self,
        *,
        principals: Iterable[Principal] | None,
        host: str,
        port: int,
        tls: bool,
        clock: Callable[[], datetime] | None,
        max_skew: timedelta,
        upstream_timeout: float,
        upstream_ca_file: str | None,
        log_stream: TextIO | None,
    ) -> None:
        self.principals: tuple[Principal, ...] = check_principals(principals)
        self._host = host
        self._port = port
        self._tls = tls
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._max_skew = max_skew
        self._upstream_timeout = upstream_timeout
        self._upstream_ca_file = upstream_ca_file
        self._log_stream = log_stream
        self._access_log: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=_ACCESS_LOG_SIZE
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._ca_pem: bytes | None = None
        self._proxy: LatticeProxy | None = None

    # -- what subclasses provide --------------------------------------------------------

    def _apps(self) -> Sequence[Any]:
        """One entry per service: the ASGI/WSGI app to serve for it, or None."""
        raise NotImplementedError

    def _network_plan(self, app_urls: Sequence[str | None]) -> NetworkPlan:
        """What the proxy runs, given the URL each service's app is served at (or None)."""
        raise NotImplementedError

    # -- what a client needs ------------------------------------------------------------

    @property
    def port(self) -> int:
        """The loopback port it listens on (chosen by the OS unless ``port=`` was given)."""
        if not self._ready.is_set():
            raise RuntimeError(
                f"the {type(self).__name__} is not running; use it as a context manager"
            )
        return self._port

    @property
    def url(self) -> str:
        """Its base URL, e.g. ``http://127.0.0.1:54321``."""
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{_url_host(self._host)}:{self.port}"

    @property
    def principal(self) -> Principal:
        """The first configured principal (a generated one unless ``principals=`` was given)."""
        return self.principals[0]

    @property
    def credentials(self) -> Credentials:
        """The first principal's `lattice_client.Credentials`."""
        return self.principal.credentials

    def add_principal(self, principal: Principal) -> None:
        """Also accept ``principal``'s credentials, from now on, running or not.

        For credentials issued while a test runs: a role assumed through an STS
        endpoint, a rotating container or instance-metadata endpoint.
        """
        key = principal.credentials.access_key_id
        if any(known.credentials.access_key_id == key for known in self.principals):
            raise ConfigurationError(f"a principal with access key {key} is already known")
        self.principals = (*self.principals, principal)
        if self._proxy is not None:
            self._proxy.add_principal(principal)

    @property
    def ca_file(self) -> str | None:
        """With ``tls=True``, a PEM file of the CA to trust (``httpx.Client(verify=...)``)."""
        if self._tempdir is None or self._ca_pem is None:
            return None
        return str(Path(self._tempdir.name) / "ca.pem")

    def ssl_context(self) -> ssl.SSLContext:
        """A client SSL context that trusts this local Lattice's certificate."""
        if self._ca_pem is None:
            raise ConfigurationError("ssl_context() needs a local Lattice started with tls=True")
        context = ssl.create_default_context(cadata=self._ca_pem.decode())
        context.set_alpn_protocols(["h2", "http/1.1"])
        return context

    @property
    def access_log(self) -> list[dict[str, Any]]:
        """The access-log records so far, oldest first (the last 10,000)."""
        return list(self._access_log)

    def clear_access_log(self) -> None:
        """Forget the access-log records so far."""
        self._access_log.clear()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self: _Self) -> _Self:
        """Start serving; returns once the port accepts connections."""
        if self._thread is not None:
            raise RuntimeError(f"this {type(self).__name__} is already running")
        for module in ("hypercorn", "h2") + (("trustme",) if self._tls else ()):
            try:
                importlib.import_module(module)
            except ImportError:
                raise MissingDependencyError(
                    f"lattice_client.testing.{type(self).__name__}", extra="testing", module=module
                ) from None
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="local-lattice", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"the {type(self).__name__} did not start within 30 s")
        error = self._startup_error()
        if error is not None:
            self._thread.join(_STOP_TIMEOUT)
            self._thread = None
            raise error
        return self

    def _startup_error(self) -> BaseException | None:
        # Set by the server thread; read through a method so the check is not narrowed away.
        return self._error

    def stop(self) -> None:
        """Stop serving and wait for the background thread to finish."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(_STOP_TIMEOUT)
        self._thread = None
        self._ready.clear()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self: _Self) -> _Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self: _Self) -> _Self:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        import anyio.to_thread

        await anyio.to_thread.run_sync(self.stop)

    # -- the background thread ----------------------------------------------------------

    def _record(self, entry: dict[str, Any]) -> None:
        from lattice_client.testing._asgi import log_json

        self._access_log.append(entry)
        line = log_json(entry)
        access_logger.info("%s", line)
        if self._log_stream is not None:
            self._log_stream.write(line + "\n")
            self._log_stream.flush()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(), or logged once running
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                logger.exception("the local Lattice stopped unexpectedly")

    async def _serve(self) -> None:
        from hypercorn.asyncio import serve

        from lattice_client.testing._proxy import LatticeProxy

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        app_urls: list[str | None] = []
        for app in self._apps():
            if app is None:
                app_urls.append(None)
                continue
            app_socket = _listen(self._host, 0)
            app_urls.append(f"http://{_url_host(self._host)}:{app_socket.getsockname()[1]}")
            tasks.append(
                asyncio.create_task(
                    serve(app, _config(app_socket), shutdown_trigger=self._stop.wait)
                )
            )
        self._proxy = LatticeProxy(
            network=self._network_plan(app_urls),
            principals=self.principals,
            clock=self._clock,
            max_skew=self._max_skew,
            access_log=self._record,
            upstream_timeout=self._upstream_timeout,
            upstream_ca_file=self._upstream_ca_file,
        )
        proxy_socket = _listen(self._host, self._port)
        self._port = proxy_socket.getsockname()[1]
        config = _config(proxy_socket)
        # Keep callers' idle connections longer than clients keep them (httpx: 5 s), so
        # that a client never reuses one the stand-in is closing at that moment.
        config.keep_alive_timeout = _CALLER_IDLE_SECONDS
        if self._tls:
            self._tempdir = tempfile.TemporaryDirectory(prefix="local-lattice-")
            config.certfile, config.keyfile = self._issue_certificate(Path(self._tempdir.name))
        proxy: Any = self._proxy  # an ASGI app; hypercorn's own typing of apps is narrower
        tasks.append(asyncio.create_task(serve(proxy, config, shutdown_trigger=self._stop.wait)))
        self._ready.set()
        await asyncio.gather(*tasks)

    def _issue_certificate(self, directory: Path) -> tuple[str, str]:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("localhost", "127.0.0.1", "::1", *self._certificate_names())
        self._ca_pem = ca.cert_pem.bytes()
        ca.cert_pem.write_to_path(str(directory / "ca.pem"))
        cert.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(str(directory / "cert.pem"), append=True)
        cert.private_key_pem.write_to_path(str(directory / "key.pem"))
        return str(directory / "cert.pem"), str(directory / "key.pem")

    def _certificate_names(self) -> Sequence[str]:
        """Further names the TLS certificate covers (the services' names)."""
        return ()


class LocalLattice(DataPlane):
    """A local stand-in for one Lattice service, in front of ``target`` or ``app``.

    It verifies SigV4/SigV4A signatures, evaluates the auth policy, applies the
    listener ``rules`` and forwards what passes, with Lattice's identity headers,
    to ``target`` (a URL) or to ``app`` (an ASGI or WSGI app it serves itself on
    another loopback port). With neither, every request that passes the auth
    checks and matches no fixed-response rule gets Lattice's 404.

    Use it as a context manager (sync or async); it runs in a background thread,
    so it serves sync and async clients alike::

        with LocalLattice("http://127.0.0.1:8000") as lattice:
            headers = lattice_client.sign("GET", lattice.url + "/", credentials=lattice.credentials,
                                          region=lattice.region)

    Requests signed for another region are refused unless it is ``region``
    (SigV4, default us-west-2) or in the region set (SigV4A). With ``tls=True``
    it serves HTTPS with a certificate from a throwaway CA: pass `ca_file` (or
    `ssl_context()`) to the client as what to trust.

    ``clock`` is the time signatures are checked against (default: now);
    ``max_skew`` how far a signature's time may be from it. ``upstream_timeout``
    bounds connecting to the target and each wait for its data;
    ``upstream_ca_file`` is what to trust for an ``https://`` target. Access-log
    records also go, one JSON line each, to ``log_stream`` when given.
    """

    def __init__(
        self,
        target: str | None = None,
        *,
        app: Any = None,
        auth_type: AuthType = "AWS_IAM",
        auth_policy: str | Mapping[str, Any] | AuthPolicy | None = None,
        principals: Iterable[Principal] | None = None,
        rules: Sequence[Rule] = (),
        region: str | None = None,
        names: ServiceNames | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        clock: Callable[[], datetime] | None = None,
        max_skew: timedelta = timedelta(minutes=5),
        upstream_timeout: float = 60.0,
        upstream_ca_file: str | None = None,
        log_stream: TextIO | None = None,
    ) -> None:
        check_target(target, app)
        super().__init__(
            principals=principals,
            host=host,
            port=port,
            tls=tls,
            clock=clock,
            max_skew=max_skew,
            upstream_timeout=upstream_timeout,
            upstream_ca_file=upstream_ca_file,
            log_stream=log_stream,
        )
        self.auth_policy = auth_policy_for(auth_type, auth_policy, "an")
        if names is not None and region is not None and names.region != region:
            raise ConfigurationError(f"region={region!r} contradicts names.region={names.region!r}")
        self.names = names or ServiceNames(region=region or "us-west-2")
        self.auth_type: AuthType = auth_type
        self.target = target
        self.rules = tuple(rules)
        self._app = app
        self._flap: Flap | None = None

    @property
    def region(self) -> str:
        """The service's region: sign SigV4 requests for it (``region=lattice.region``)."""
        return self.names.region

    @property
    def service_arn(self) -> str:
        """The ARN auth policy resources are built on: ``<service_arn>/<path>``."""
        return self.names.service_arn

    def flap(self, *, requests: int = 0, seconds: float = 0.0) -> None:
        """Make the target look unhealthy: Lattice's 503 for the next ``requests`` requests
        that would reach it, or for ``seconds``; ``flap()`` ends it. Test retries with it."""
        check_flap(requests, seconds)
        _flap_of(self).start(requests, seconds)

    def __repr__(self) -> str:
        where = self.url if self._ready.is_set() else "not running"
        return f"LocalLattice({where}, auth_type={self.auth_type!r}, region={self.region!r})"

    def _apps(self) -> Sequence[Any]:
        return [self._app]

    def _network_plan(self, app_urls: Sequence[str | None]) -> NetworkPlan:
        from lattice_client.testing._proxy import NetworkPlan, ServicePlan, VpcAssociation

        service = ServicePlan(
            names=self.names,
            auth_type=self.auth_type,
            auth_policy=self.auth_policy,
            rules=self.rules,
            default_target=self.target or app_urls[0],
            flap=_flap_of(self),
        )
        vpc = VpcAssociation(self.names.vpc_id, self.names.account, self.names.region)
        return NetworkPlan(services=(service,), vpcs=(vpc,), arn=self.names.service_network_arn)


def _flap_of(lattice: LocalLattice) -> Flap:
    from lattice_client.testing._proxy import Flap

    if lattice._flap is None:
        lattice._flap = Flap()
    return lattice._flap


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)  # a burst of new connections (a load test) must not wait on SYN retries
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _config(sock: socket.socket) -> Any:
    from hypercorn.config import Config

    _give_status_lines_reason_phrases()
    config = Config()
    # Answer like one server: the target's own date and server headers, not a second
    # pair from hypercorn (the proxy adds a date only where the target sent none).
    config.include_date_header = False
    config.include_server_header = False
    # hypercorn adopts the already-listening socket (the port is known before it starts).
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("lattice_client.testing.server")
    config.graceful_timeout = 1.0
    return config


class _H11WithReasonPhrases:
    """The h11 module, except that responses get their standard reason phrase."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def Response(self, **fields: Any) -> Any:  # h11's own name
        return self._module.Response(**_reasoned(fields))

    def InformationalResponse(self, **fields: Any) -> Any:  # h11's own name
        return self._module.InformationalResponse(**_reasoned(fields))


def _reasoned(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("reason"):
        return fields
    try:
        phrase = http.HTTPStatus(int(fields["status_code"])).phrase
    except ValueError:
        return fields  # a status with no standard phrase keeps an empty one
    return {**fields, "reason": phrase.encode("ascii")}


def _give_status_lines_reason_phrases() -> None:
    """HTTP/1.1 status lines with a reason phrase (``HTTP/1.1 403 Forbidden``), as
    Lattice sends them and clients print them (httpx: "Client error '403 Forbidden'").

    hypercorn builds its responses with ``h11.Response(status_code=...)`` and no
    reason, and has no setting for one; its HTTP/1.1 protocol module gets an h11
    that fills in the standard phrase. Done once; any other hypercorn server in the
    process gets the standard phrases too, which changes nothing else it sends.
    """
    protocol: Any = importlib.import_module("hypercorn.protocol.h11")
    if not isinstance(protocol.h11, _H11WithReasonPhrases):
        protocol.h11 = _H11WithReasonPhrases(protocol.h11)
