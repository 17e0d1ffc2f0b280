"""Differential: the stand-in's verdict on a request equals botocore's, on random requests.

Requests are signed by botocore's SigV4 signer, then maybe altered on the way
(wrong secret on the server, path, query, header, method or date changed).
botocore's verdict is whether it computes the same signature over the request
as received; the stand-in's is `verify_signature`. Raw query characters on
which botocore and awscrt are known to differ (LATTICE.md) are not generated:
query parts are unreserved characters or uppercase ``%XX`` of reserved bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import time_machine
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lattice_client
from lattice_client.testing import verify_signature

NOW = datetime(2026, 5, 4, 3, 2, 1, tzinfo=timezone.utc)
HOST = "inventory-0a1b2c3d4e5f60718.7d67968.vpc-lattice-svcs.eu-central-1.on.aws"
REGION = "eu-central-1"
SECRET = "server-side-secret/with+chars"

_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def _encoded(text: str) -> str:
    return quote(text, safe="-._~")


# Path segments and query parts: unreserved text with some encoded reserved bytes.
_piece = st.text(alphabet=_UNRESERVED + " /:+=&?%é", min_size=1, max_size=8).map(_encoded)
_segment = _piece.filter(lambda s: s not in (".", ".."))
_header_value = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ,;=/.:-]{0,14}[A-Za-z0-9]", fullmatch=True)


@dataclass(frozen=True)
class Received:
    """A request as the server receives it."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]


def botocore_sign(
    method: str, target: str, headers: dict[str, str], credentials: BotoCredentials
) -> Received:
    request = AWSRequest(method, f"https://{HOST}{target}", headers=dict(headers))
    with time_machine.travel(NOW, tick=False):
        SigV4Auth(credentials, "vpc-lattice-svcs", REGION).add_auth(request)
    return Received(method, target, (("host", HOST), *request.headers.items()))


def botocore_verdict(received: Received, known: BotoCredentials) -> bool:
    """botocore recomputes the signature over exactly what was received and signed."""
    fields = dict(received.headers)
    authorization = fields["Authorization"]
    signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    sent_signature = authorization.rpartition("Signature=")[2]
    kept = {
        name: value
        for name, value in fields.items()
        if name.lower() in signed_names
        and name.lower() not in ("host", "x-amz-date", "x-amz-security-token")
    }
    if ("x-amz-security-token" in signed_names) != (known.token is not None):
        return False
    if known.token is not None and fields.get("X-Amz-Security-Token") != known.token:
        return False
    moment = datetime.strptime(fields["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    url = f"https://{fields['host']}{received.target}"  # the Host as received is what is checked
    request = AWSRequest(received.method, url, headers=kept)
    with time_machine.travel(moment, tick=False):
        SigV4Auth(known, "vpc-lattice-svcs", REGION).add_auth(request)
    return request.headers["Authorization"].rpartition("Signature=")[2] == sent_signature


def stand_in_verdict(received: Received, known: BotoCredentials) -> bool:
    credentials = lattice_client.Credentials(known.access_key, known.secret_key, known.token)
    check = verify_signature(
        received.method,
        received.target,
        [(name.lower(), value) for name, value in received.headers],
        credentials={known.access_key: credentials},
        now=NOW,
        region=REGION,
    )
    return check.ok


def _replace(
    headers: tuple[tuple[str, str], ...], name: str, value: str
) -> tuple[tuple[str, str], ...]:
    return tuple((n, value if n.lower() == name else v) for n, v in headers)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    segments=st.lists(_segment, max_size=4),
    trailing_slash=st.booleans(),
    query=st.lists(st.tuples(_piece, st.one_of(st.just(""), _piece)), max_size=4),
    custom=st.dictionaries(
        st.sampled_from(["x-tenant", "content-type", "x-request-id", "accept"]),
        _header_value,
        max_size=3,
    ),
    with_token=st.booleans(),
    alteration=st.sampled_from(
        ["none", "none", "secret", "path", "query", "header", "method", "date"]
    ),
)
def test_stand_in_and_botocore_agree(
    method: str,
    segments: list[str],
    trailing_slash: bool,
    query: list[tuple[str, str]],
    custom: dict[str, str],
    with_token: bool,
    alteration: str,
) -> None:
    """On random signed (and sometimes altered) requests, both verifiers give the same verdict."""
    path = "/" + "/".join(segments) + ("/" if trailing_slash and segments else "")
    query_string = "&".join(f"{name}={value}" for name, value in query)
    target = path + (f"?{query_string}" if query_string else "")
    token = "token/+=value" if with_token else None
    client = BotoCredentials("AKIDDIFFERENTIAL", SECRET, token)
    received = botocore_sign(
        method, target, {**custom, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, client
    )
    known = client
    if alteration == "secret":
        known = BotoCredentials(client.access_key, SECRET + "x", token)
    elif alteration == "path":
        moved = path.rstrip("/") + "/extra" + target[len(path) :]
        received = Received(received.method, moved, received.headers)
    elif alteration == "query":
        glue = "&" if query_string else "?"
        received = Received(received.method, target + glue + "added=1", received.headers)
    elif alteration == "header":
        name = next(iter(custom), "host")
        received = Received(received.method, target, _replace(received.headers, name, "changed"))
    elif alteration == "method":
        other = "OPTIONS" if method != "OPTIONS" else "GET"
        received = Received(other, target, received.headers)
    elif alteration == "date":
        later = (NOW + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
        received = Received(method, target, _replace(received.headers, "x-amz-date", later))

    expected = botocore_verdict(received, known)
    assert stand_in_verdict(received, known) == expected
    assert expected == (alteration == "none")
