"""``lattice-curl -v``: the verbose trace on stderr.

`_Verbose` is httpx's ``trace`` extension: it writes curl-style ``*``, ``>`` and ``<``
lines for the connection, the request as it goes on the wire and the response headers,
then recomputes the canonical request and the string to sign with the signing core
from what was sent (``sign_request`` is pure), so what it prints is what the signature
covers. Secrets never show: `_redact_header` hides the session token, cookies and the
Signature part of Authorization.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

from lattice_client._credentials import Credentials
from lattice_client._exceptions import LatticeError
from lattice_client._lattice import ANY_REGION

_AUTHORIZATION = re.compile(
    r"(?P<algorithm>AWS4-[A-Z0-9-]+) Credential=(?P<key>[^/]+)/(?P<scope>[^,]+),"
    r" *SignedHeaders=[^,]+, *Signature=[0-9a-f]+"
)

_SIGNATURE_VALUE = re.compile(r"(Signature=)[0-9a-fA-F]+")
# Request headers whose values -v never shows.
_SECRET_HEADERS = frozenset({"x-amz-security-token", "proxy-authorization", "cookie"})


def _redact_header(name: str, value: str) -> str:
    lname = name.lower()
    if lname == "authorization":
        # A SigV4 value shows all but its signature; any other scheme shows nothing.
        redacted = _SIGNATURE_VALUE.sub(r"\1<redacted>", value)
        return redacted if redacted != value else "<redacted>"
    if lname in _SECRET_HEADERS:
        return "<redacted>"
    return value


class _Verbose:
    """Writes curl-style ``*``, ``>`` and ``<`` lines to stderr from httpx's trace events."""

    def __init__(self, stream: TextIO, credentials: Credentials) -> None:
        self._stream = stream
        self._credentials = credentials

    def info(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self._stream.write(f"* {line}\n")
        self._stream.flush()

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        """httpx's ``trace`` extension: called by httpcore around each step of a request."""
        try:
            self._event(event, info)
        except Exception as exc:  # -v must never break the request it describes
            self.info(f"(cannot show {event}: {type(exc).__name__})")

    def _event(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.started":
            self.info(f"Connecting to {info.get('host')} port {info.get('port')}")
        elif event == "connection.start_tls.complete":
            get_extra_info = getattr(info.get("return_value"), "get_extra_info", None)
            ssl_object = get_extra_info("ssl_object") if get_extra_info else None
            if ssl_object is not None:
                alpn = ssl_object.selected_alpn_protocol() or "none"
                self.info(f"TLS {ssl_object.version()}, ALPN {alpn}")
        elif event.endswith(".send_request_headers.started"):
            self._request(info["request"])
        elif event == "http11.receive_response_headers.complete":
            version, status, reason, headers = info["return_value"][:4]
            status_line = f"{version.decode('ascii')} {status} {reason.decode('latin-1')}"
            self._response(status_line, headers)
        elif event == "http2.receive_response_headers.complete":
            status, headers = info["return_value"]
            self._response(f"HTTP/2 {status}", headers)

    def _request(self, request: Any) -> None:
        method = request.method.decode("ascii")
        target = request.url.target.decode("ascii")
        headers = [
            (name.decode("latin-1"), value.decode("utf-8", "surrogateescape"))
            for name, value in request.headers
        ]
        lines = [f"{method} {target}"]
        lines += [f"{name}: {_redact_header(name, value)}" for name, value in headers]
        self._stream.write("".join(f"> {line}\n" for line in lines) + ">\n")
        if method != "CONNECT":  # a proxy tunnel's own request carries no signature
            self._signing_steps(method, target, headers)

    def _response(self, status_line: str, headers: list[tuple[bytes, bytes]]) -> None:
        lines = [status_line.rstrip()]
        lines += [f"{n.decode('latin-1')}: {v.decode('latin-1')}" for n, v in headers]
        self._stream.write("".join(f"< {line}\n" for line in lines) + "<\n")
        self._stream.flush()

    def _signing_steps(self, method: str, target: str, headers: list[tuple[str, str]]) -> None:
        """Recompute the canonical request and string to sign from the request as sent."""
        from lattice_client._answers import parse_amz_date
        from lattice_client._signing import ALGORITHM_SIGV4A, redact, sign_request

        values = {name.lower(): value for name, value in headers}
        match = _AUTHORIZATION.fullmatch(values.get("authorization", ""))
        if match is None:
            self.info("not signed: only requests to the URL's host are signed")
            return
        now = parse_amz_date(values.get("x-amz-date"))
        if now is None:
            self.info("signed, but without a readable x-amz-date")
            return
        sigv4a = match["algorithm"] == ALGORITHM_SIGV4A
        scope = match["scope"].split("/")
        region = "" if sigv4a else scope[1]
        if target.startswith("/"):
            path, _, query = target.partition("?")
        else:  # absolute form, through a forward proxy: sign what the origin will see
            from urllib.parse import urlsplit

            parts = urlsplit(target)
            path, query = parts.path or "/", parts.query
        try:
            steps = sign_request(
                method,
                values.get("host", ""),
                path,
                query,
                headers,
                credentials=self._credentials,
                region=region,
                service=scope[-2],
                now=now,
                sigv4a=sigv4a,
                region_set=values.get("x-amz-region-set", ANY_REGION),
            )
        except LatticeError as exc:
            self.info(f"cannot show the signing steps: {exc}")
            return
        self.info("canonical request:")
        self._block(redact(steps.canonical_request, self._credentials))
        self.info("string to sign:")
        self._block(steps.string_to_sign)
        if not sigv4a and steps.headers["authorization"] != values["authorization"]:
            self.info("note: these steps do not reproduce the signature that was sent")

    def _block(self, text: str) -> None:
        self._stream.write("".join(f"*   {line}\n" for line in text.split("\n")))
        self._stream.flush()
