"""Sign requests' requests for Lattice: a transport adapter, and a drop-in ``Session``.

Needs the extra ``requests`` (``pip install 'vpc-lattice-client[requests]'``).

`LatticeAdapter` is a ``requests.adapters.HTTPAdapter`` that signs in ``send``:
requests calls ``send`` once for the request and once per redirect hop, so each
hop is signed anew with a fresh timestamp (a ``requests.auth.AuthBase`` runs
once, before redirects). With ``retries=`` (a `lattice_client.Retries`) the
adapter retries in ``send`` itself, through the loop the httpx transports run
(`lattice_client._resend`), signing each attempt anew; urllib3's own retries
(``max_retries=``) would re-send the first signature and know no total bound.
It signs exactly what urllib3 puts on the wire: the target as urllib3 encodes
it, the Host http.client sends, the header fields as given, never
``user-agent``, ``connection``... The body is never read: Lattice takes
``UNSIGNED-PAYLOAD``, so generators and files stream.

Each request you send is signed for its own origin; a redirect hop only when it
stays there or goes to an origin in ``signing_origins`` (the origin rule of
`lattice_client._policy`); an unsigned hop carries no ``authorization`` and no
``x-amz-*`` header (requests' own ``rebuild_auth`` strips only
``Authorization``). `Session` mounts one adapter for ``https://`` and ``http://``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._exceptions import MissingDependencyError

try:
    import requests
    import requests.adapters
except ImportError:
    raise MissingDependencyError("requests signing", extra="requests", module="requests") from None

from urllib.parse import urlsplit

from requests.structures import CaseInsensitiveDict
from urllib3.util.url import parse_url

from ._adapter import origin_for, retries_from
from ._credentials import CredentialsLike
from ._exceptions import ConfigurationError
from ._lattice import ANY_REGION, DOUBLE_ENCODE_PATH, SIGNING_NAME
from ._policy import Origin, policy_from_options

if TYPE_CHECKING:
    from ._retries import RetriesLike

__all__ = ["LatticeAdapter", "Session", "raise_for_status"]

try:  # what urllib3 does to an origin-form target before sending it
    from urllib3.util.url import _encode_target
except ImportError:  # pragma: no cover - older or newer urllib3: requests' own encoding stands

    def _encode_target(target: str) -> str:
        return target


class LatticeAdapter(requests.adapters.HTTPAdapter):
    """A requests transport adapter that signs each request for Lattice as it is sent.

    Mount it on any session (``session.mount("https://", adapter)`` and
    ``"http://"``) or use `Session`. Every request you send is signed for its
    own origin (scheme, host, port). A redirect hop is signed only when it stays
    on that origin or goes to an origin in ``signing_origins``
    (``"https://api.example.com"``, ``"api.example.com:8443"``,
    ``"*.example.com"``); any other hop goes without ``authorization`` and
    without any ``x-amz-*`` header. With ``strict_origins=True`` only the listed
    origins are signed at all. The other options are
    `lattice_client.LatticeTransport`'s; ``adapter_options`` go to
    ``HTTPAdapter`` (``pool_maxsize``, ``max_retries``...).

    When Lattice answers that a signature expired or is not yet valid, the
    offset to its ``Date`` is learned (up to 15 minutes) and the request is
    re-signed and sent once more if its body can be sent again (none, bytes, str,
    a seekable file); a generator body raises `BodyNotReplayableError` (also a
    `SignatureExpiredError`) instead.

    ``retries`` (a `lattice_client.Retries`, or True for its defaults; default
    None: off) sends again, re-signed, after a failed connect, a reset before
    the answer and Lattice's transient answers (429, 502, 503, 504), for the
    idempotent methods (``Retries.methods``); when the attempts run out the last
    answer's typed error is raised with ``attempts`` set. A body that cannot be
    sent again raises `BodyNotReplayableError` instead. Not together with
    ``max_retries`` (urllib3's retries). See docs/retries.md.
    """

    def __init__(
        self,
        *,
        credentials: CredentialsLike = None,
        role_arn: str | None = None,
        role_session_name: str | None = None,
        external_id: str | None = None,
        duration: timedelta | int | None = None,
        region: str | None = None,
        service: str = SIGNING_NAME,
        sigv4a: bool = False,
        region_set: str = ANY_REGION,
        signing_origins: Iterable[str] = (),
        strict_origins: bool = False,
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
        retries: RetriesLike = None,
        **adapter_options: Any,
    ) -> None:
        self._retries = retries_from(retries)
        if self._retries is not None and adapter_options.get("max_retries"):
            raise ConfigurationError(
                "pass retries= (signs each attempt anew) or max_retries= (urllib3's "
                "retries), not both"
            )
        self._policy = policy_from_options(
            credentials=credentials,
            role_arn=role_arn,
            role_session_name=role_session_name,
            external_id=external_id,
            duration=duration,
            region=region,
            service=service,
            sigv4a=sigv4a,
            region_set=region_set,
            signing_origins=signing_origins,
            strict_origins=strict_origins,
            signing_hosts=(),
            double_encode_path=double_encode_path,
            clock=clock,
        )
        super().__init__(**adapter_options)

    def __repr__(self) -> str:
        return f"<LatticeAdapter {self._policy.describe()}>"

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Sign ``request`` if the origin rule allows, then send it as ``HTTPAdapter`` does."""
        retries = self._retries
        if retries is None:
            signed = self._sign(request, proxies)
            response = super().send(request, stream, timeout, verify, cert, proxies)
            # Only a 4xx can be Lattice refusing our clock: then the loop takes over.
            if not signed or not 400 <= response.status_code < 500:
                return response
        else:
            response = None
        from ._requests_resend import send

        def transport() -> requests.Response:
            return super(LatticeAdapter, self).send(request, stream, timeout, verify, cert, proxies)

        return send(
            request,
            transport,
            lambda: self._sign(request, proxies),
            self._policy.clock,
            retries,
            response,
        )

    def _sign(self, request: requests.PreparedRequest, proxies: Mapping[str, str] | None) -> bool:
        """Apply the policy's decision to ``request`` as urllib3 will send it; True if signed."""
        headers = request.headers
        url = request.url or ""
        # A redirect hop's headers are a copy of the previous hop's, marked with the
        # origin of the chain's first request; the caller's own request has none.
        chain = headers.chain_origin if type(headers) is _ChainHeaders else None
        parts = urlsplit(url)
        fields = [
            (name, value if type(value) is str and value.isascii() else _text(value))
            for name, value in _items(headers)
        ]
        # What HTTPAdapter.send asks urllib3 to send: origin form unless a proxy takes
        # the request in absolute form (request_url decides; it costs a proxy lookup).
        target = self.request_url(request, proxies) if proxies else request.path_url
        if target.startswith("/"):
            target = _encode_target(target)
        else:  # absolute form: http.client sends the URL's netloc as Host
            target = parse_url(target).request_uri
            if "host" not in headers:
                fields.append(("Host", parts.netloc.rpartition("@")[2]))
        origin = origin_for(parts.scheme, parts.netloc)
        path, _, query = target.partition("?")
        decision = self._policy.decide_parts(
            request.method or "GET", origin, path, query, fields, chain
        )
        for name in decision.remove:
            del headers[name]
        for name, value in decision.headers.items():
            headers[name] = value
        if chain is None:
            request.headers = _ChainHeaders.marking(headers, origin)
        # For the typed errors: an answer saying the request came unsigned names why.
        request._lattice_unsigned_reason = decision.reason  # type: ignore[attr-defined]
        return decision.signed


class _ChainHeaders(CaseInsensitiveDict[str]):
    """A request's headers, marked with the origin its redirect chain began at.

    requests builds a redirect hop from ``previous.copy()``, which copies the
    headers with ``copy()``: the mark travels to every hop of the chain, and
    only there.
    """

    chain_origin: Origin

    @classmethod
    def marking(cls, headers: CaseInsensitiveDict[str], origin: Origin) -> _ChainHeaders:
        marked = cls.__new__(cls)
        marked._store = headers._store  # type: ignore[attr-defined]  # the same fields, not a copy
        marked.chain_origin = origin
        return marked

    def copy(self) -> _ChainHeaders:
        copied = _ChainHeaders(self._store.values())  # type: ignore[attr-defined]
        copied.chain_origin = self.chain_origin
        return copied

    def __repr__(self) -> str:
        # As httpx hides authorization: a logged request shows no token, no signature.
        shown = {}
        for name, value in self.items():
            lower = name.lower()
            if lower == "x-amz-security-token":
                value = "[redacted]"
            elif lower == "authorization" and "Signature=" in str(value):
                value = str(value).partition("Signature=")[0] + "Signature=[redacted]"
            shown[name] = value
        return str(shown)


def _items(headers: Mapping[str, Any]) -> list[tuple[str, str | bytes]]:
    """The header fields as given: requests allows str or bytes values."""
    return list(headers.items())


def _text(value: str | bytes) -> str:
    """A field value as sent (http.client: bytes as is, str as latin-1), as the signer's str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if value.isascii():
        return value
    return value.encode("latin-1").decode("utf-8", "surrogateescape")


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
    ``http://``; the adapter applies the origin rule to every redirect hop.
    """

    def __init__(
        self,
        *,
        credentials: CredentialsLike = None,
        role_arn: str | None = None,
        role_session_name: str | None = None,
        external_id: str | None = None,
        duration: timedelta | int | None = None,
        region: str | None = None,
        service: str = SIGNING_NAME,
        sigv4a: bool = False,
        region_set: str = ANY_REGION,
        signing_origins: Iterable[str] = (),
        strict_origins: bool = False,
        double_encode_path: bool = DOUBLE_ENCODE_PATH,
        clock: Callable[[], datetime] | None = None,
        retries: RetriesLike = None,
        **adapter_options: Any,
    ) -> None:
        super().__init__()
        adapter = LatticeAdapter(
            credentials=credentials,
            role_arn=role_arn,
            role_session_name=role_session_name,
            external_id=external_id,
            duration=duration,
            region=region,
            service=service,
            sigv4a=sigv4a,
            region_set=region_set,
            signing_origins=signing_origins,
            strict_origins=strict_origins,
            double_encode_path=double_encode_path,
            clock=clock,
            retries=retries,
            **adapter_options,
        )
        self.mount("https://", adapter)
        self.mount("http://", adapter)


def raise_for_status(response: requests.Response) -> requests.Response:
    """Raise the typed error for a 4xx/5xx ``response``; return ``response`` otherwise.

    The same as `lattice_client.raise_for_status`; the error is also a
    ``requests.HTTPError`` with ``request`` and ``response``.
    """
    from ._requests_errors import raise_for_status as raise_for_requests

    return raise_for_requests(response)
