"""Sign requests' requests for Lattice: a transport adapter, and a drop-in ``Session``.

Needs the extra ``requests`` (``pip install 'vpc-lattice-client[requests]'``).

`LatticeAdapter` is a ``requests.adapters.HTTPAdapter`` that signs in ``send``:
requests calls ``send`` once for the request and once per redirect hop, so each
hop is signed anew with a fresh timestamp (a ``requests.auth.AuthBase`` runs
once, before redirects). urllib3's own retries inside one ``send`` re-send the
same signature, which stays valid for minutes. It signs exactly what urllib3
puts on the wire: the target as urllib3 encodes it, the Host http.client sends,
the header fields as given, never ``user-agent``, ``connection``... The body is
never read: Lattice takes ``UNSIGNED-PAYLOAD``, so generators and files stream.

`Session` mounts one adapter for ``https://`` and ``http://`` and, on a redirect
to another origin, strips every ``x-amz-*`` header as well as ``Authorization``
(requests' own ``rebuild_auth`` strips only the latter).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from ._exceptions import MissingDependencyError

try:
    import requests
    import requests.adapters
except ImportError:
    raise MissingDependencyError("requests signing", extra="requests", module="requests") from None

from urllib.parse import urlsplit

from urllib3.util.url import parse_url

from ._adapter import AdapterSigning, is_aws_header, is_signature_header, learn_skew
from ._credentials import CredentialsLike
from ._lattice import ANY_REGION, DOUBLE_ENCODE_PATH, SIGNING_NAME

__all__ = ["LatticeAdapter", "Session", "raise_for_status"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

try:  # what urllib3 does to an origin-form target before sending it
    from urllib3.util.url import _encode_target
except ImportError:  # pragma: no cover - older or newer urllib3: requests' own encoding stands

    def _encode_target(target: str) -> str:
        return target


class LatticeAdapter(requests.adapters.HTTPAdapter):
    """A requests transport adapter that signs each request for Lattice as it is sent.

    Mount it on any session (``session.mount("https://", adapter)``) or use
    `Session`. Requests are signed only when their host is a generated Lattice
    name (``*.vpc-lattice-svcs.<region>.on.aws``) or listed in
    ``signing_hosts`` (``"api.example.com"``, ``"api.example.com:8443"``,
    ``"*.example.com"``, ``"*"``); to any other host they go without
    ``authorization`` and without any ``x-amz-*`` header. The options are
    `lattice_client.LatticeTransport`'s; ``adapter_options`` go to
    ``HTTPAdapter`` (``pool_maxsize``, ``max_retries``...).

    When Lattice answers that a signature expired or is not yet valid, the
    offset to its ``Date`` is learned (up to 15 minutes) and the request is
    re-signed and sent once more if its body can be sent again (none, bytes, str,
    a seekable file); a generator body raises `SignatureExpiredError` instead.
    """

    def __init__(
        self,
        *,
        credentials: CredentialsLike = None,
        region: str | None = None,
        service: str = SIGNING_NAME,
        sigv4a: bool = False,
        region_set: str = ANY_REGION,
        signing_hosts: Iterable[str] = (),
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
        **adapter_options: Any,
    ) -> None:
        self._signing = AdapterSigning(
            credentials=credentials,
            region=region,
            service=service,
            sigv4a=sigv4a,
            region_set=region_set,
            signing_hosts=signing_hosts,
            double_encode_path=double_encode_path,
            clock=clock,
        )
        super().__init__(**adapter_options)

    def __repr__(self) -> str:
        return f"<LatticeAdapter {self._signing.describe()}>"

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Sign ``request`` if its host may be signed, then send it as ``HTTPAdapter`` does."""
        signed = self._sign(request, proxies)
        response = super().send(request, stream, timeout, verify, cert, proxies)
        if not signed or not 400 <= response.status_code < 500:
            return response
        # Only a 4xx can be Lattice refusing our clock; one re-send at most.
        from ._requests_errors import peek_body, raise_for_status, signed_at_of

        signing = self._signing
        if not learn_skew(
            response.status_code,
            response.headers.items(),
            peek_body(response),
            signed_at=signed_at_of(request),
            clock=signing.clock,
        ):
            return response
        if not _rewind(request):
            raise_for_status(response)  # an expiry answer: raises SignatureExpiredError
        response.close()
        self._sign(request, proxies)
        return super().send(request, stream, timeout, verify, cert, proxies)

    def _sign(self, request: requests.PreparedRequest, proxies: Mapping[str, str] | None) -> bool:
        """Strip stale signature headers; sign as urllib3 will send. False when not signed."""
        headers = request.headers
        url = request.url or ""
        target = self.request_url(request, proxies)
        if target.startswith("/"):
            target = _encode_target(target)
            host = _host_header(url)
        else:  # absolute form, to a forward proxy: http.client sends the URL's netloc
            parsed = parse_url(target)
            target = parsed.request_uri
            host = urlsplit(url).netloc
        signing = self._signing
        allowed = signing.may_sign(host.lower())
        stale = [name for name in headers if is_aws_header(name)]
        for name in stale:
            if not allowed or is_signature_header(name):
                del headers[name]
        if not allowed:
            return False
        fields: list[tuple[str, str]] = []
        for name, value in _items(headers):
            if isinstance(value, bytes):
                text = value.decode("utf-8", "surrogateescape")
            elif value.isascii():
                text = value
            else:  # http.client sends str values as latin-1
                text = value.encode("latin-1").decode("utf-8", "surrogateescape")
            if name.lower() == "host":
                host = text
            fields.append((name, text))
        now = signing.clock.now()
        signature = signing.signature(
            request.method or "GET", host, target, fields, signing.credentials(now), now
        )
        headers.update(signature)
        return True


def _items(headers: Mapping[str, Any]) -> list[tuple[str, str | bytes]]:
    """The header fields as given: requests allows str or bytes values."""
    return list(headers.items())


def _host_header(url: str) -> str:
    """The Host http.client sends for an origin-form request to ``url`` (via urllib3)."""
    parsed = parse_url(url)
    host = (parsed.host or "").rstrip(".")  # urllib3's connection drops a trailing dot
    port = parsed.port
    if port is None or port == _DEFAULT_PORTS.get(parsed.scheme or "http"):
        return host
    return f"{host}:{port}"


def _rewind(request: requests.PreparedRequest) -> bool:
    """Make ``request``'s body ready to be sent again; False when it cannot be."""
    body: object = request.body  # typed bytes | str | None; may be a file or generator
    if body is None or isinstance(body, bytes | str):
        return True
    position = getattr(request, "_body_position", None)
    seek = getattr(body, "seek", None)
    if isinstance(position, int) and callable(seek):
        seek(position)
        return True
    return False


class Session(requests.Session):
    """A ``requests.Session`` whose requests are signed for Lattice; a drop-in replacement.

    Takes `LatticeAdapter`'s options and mounts one adapter for ``https://`` and
    ``http://``. A redirect to another origin (scheme, host or port) loses
    ``Authorization`` and every ``x-amz-*`` header before the adapter decides
    whether the new host may be signed.
    """

    def __init__(
        self,
        *,
        credentials: CredentialsLike = None,
        region: str | None = None,
        service: str = SIGNING_NAME,
        sigv4a: bool = False,
        region_set: str = ANY_REGION,
        signing_hosts: Iterable[str] = (),
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
        **adapter_options: Any,
    ) -> None:
        super().__init__()
        adapter = LatticeAdapter(
            credentials=credentials,
            region=region,
            service=service,
            sigv4a=sigv4a,
            region_set=region_set,
            signing_hosts=signing_hosts,
            double_encode_path=double_encode_path,
            clock=clock,
            **adapter_options,
        )
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        """As requests does, and also strip ``x-amz-*`` on a hop to another origin."""
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        previous = response.request.url if response.request is not None else None
        if previous is not None and _origin(previous) != _origin(prepared_request.url or ""):
            headers = prepared_request.headers
            for name in [name for name in headers if is_aws_header(name)]:
                del headers[name]


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = parse_url(url)
    scheme = (parsed.scheme or "").lower()
    return scheme, (parsed.host or "").lower(), parsed.port or _DEFAULT_PORTS.get(scheme)


def raise_for_status(response: requests.Response) -> requests.Response:
    """Raise the typed error for a 4xx/5xx ``response``; return ``response`` otherwise.

    The same as `lattice_client.raise_for_status`; the error is also a
    ``requests.HTTPError`` with ``request`` and ``response``.
    """
    from ._requests_errors import raise_for_status as raise_for_requests

    return raise_for_requests(response)
