"""`LatticeResponse`: what a Lambda target returns, as the dict Lattice expects.

Lattice reads ``statusCode``, ``headers``, ``isBase64Encoded`` (all required)
and ``body`` (optional), computes ``Content-Length`` itself and ignores
hop-by-hop headers (lambda-functions.html).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import InvalidResponseError
from ._event import MAX_BODY_BYTES

__all__ = ["LatticeResponse"]

Body = str | bytes | Mapping[str, Any] | list[Any] | None

_TEXT = "text/plain; charset=utf-8"
_BINARY = "application/octet-stream"
_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class LatticeResponse:
    """A response for Lattice: a status, headers, and a body of text, bytes or JSON.

    ``body`` as ``str`` is sent as text, ``bytes`` base64-encoded with
    ``isBase64Encoded`` set, a dict or list as JSON. ``content-type`` defaults
    to match unless ``headers`` sets it.
    """

    body: Body = None
    status_code: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The response as Lattice wants it; `InvalidResponseError` if Lattice would refuse it."""
        status = self.status_code
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise InvalidResponseError(
                f"status_code must be an int from 100 to 599, not {status!r}"
            )
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise InvalidResponseError(
                    f"response headers must map str to str; {name!r} maps to {type(value).__name__}"
                )
            headers[name] = value
        body = self.body
        encoded = False
        text: str | None
        if body is None:
            text = None
            content_type = None
        elif isinstance(body, str):
            text, content_type = body, _TEXT
        elif isinstance(body, bytes | bytearray | memoryview):
            raw = bytes(body)
            if len(raw) > MAX_BODY_BYTES:
                raise _too_large(len(raw))
            text, content_type, encoded = base64.b64encode(raw).decode("ascii"), _BINARY, True
        elif isinstance(body, Mapping | list):
            try:
                text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            except (TypeError, ValueError) as exc:
                raise InvalidResponseError(
                    f"the response body is not JSON-serialisable: {exc}"
                ) from exc
            content_type = _JSON
        else:
            raise InvalidResponseError(
                f"body must be str, bytes, a dict, a list or None, not {type(body).__name__}"
            )
        # Lambda's 6 MB applies to the whole response payload: the encoded body dominates it.
        if text is not None and len(text) > MAX_BODY_BYTES:
            raise _too_large(len(text))
        if content_type is not None and not any(name.lower() == "content-type" for name in headers):
            headers["content-type"] = content_type
        response: dict[str, Any] = {
            "statusCode": status,
            "headers": headers,
            "isBase64Encoded": encoded,
        }
        if text is not None:
            response["body"] = text
        return response


def _too_large(size: int) -> InvalidResponseError:
    return InvalidResponseError(
        f"the response body is {size} bytes once encoded; Lattice and Lambda accept at most "
        f"{MAX_BODY_BYTES}"
    )
