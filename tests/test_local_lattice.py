"""`LocalLattice` does to requests what Lattice's data plane does, end to end over loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

import lattice_client
from lattice_client.testing import AuthPolicy, LocalLattice, PolicyError, Principal, Rule

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CALLER = Principal.generate("arn:aws:sts::111122223333:assumed-role/billing-reader/job-7")
OTHER = Principal.generate("arn:aws:iam::444455556666:user/ops", session_token=False)
INTRUDER = Principal.generate("arn:aws:sts::111122223333:assumed-role/intruder/x")
SERVICE_ARN = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0"


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """A target that answers with what it received: method, target, headers, body size."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    query = scope["query_string"].decode()
    seen = {
        "method": scope["method"],
        "target": scope["raw_path"].decode() + (f"?{query}" if query else ""),
        "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
        "size": size,
    }
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"x-target", b"echo")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(seen).encode()})


def headers_seen(response: httpx.Response) -> dict[str, list[str]]:
    """The headers the target received, name -> values."""
    seen: dict[str, list[str]] = {}
    for name, value in response.json()["headers"]:
        seen.setdefault(name, []).append(value)
    return seen


@pytest.fixture(scope="module")
def lattice() -> Iterator[LocalLattice]:
    """One local Lattice in front of the echo target, with a policy exercising every rule kind."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [CALLER.arn, "444455556666"]},
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": [f"{SERVICE_ARN}/*"],
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/intruder"},
                "Action": "vpc-lattice-svcs:*",
                "Resource": f"{SERVICE_ARN}/public/*",
            },
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": f"{SERVICE_ARN}/health",
                "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET"}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke",
                "Resource": f"{SERVICE_ARN}/admin*",
                "Condition": {
                    "StringNotEqualsIfExists": {"vpc-lattice-svcs:RequestHeader/x-ticket": "T-1"}
                },
            },
        ],
    }
    rules = [
        Rule("/gone", fixed_response=404),
        Rule("/broken", fixed_response=500, match="exact", method="POST"),
    ]
    with LocalLattice(
        app=echo, auth_policy=policy, principals=[CALLER, OTHER, INTRUDER], rules=rules
    ) as running:
        yield running


def signed(
    lattice: LocalLattice,
    method: str,
    path: str,
    principal: Principal = CALLER,
    headers: dict[str, str] | None = None,
    *,
    sigv4a: bool = False,
    now: datetime | None = None,
) -> dict[str, str]:
    """Headers for a request to ``path`` signed by lattice_client.sign for ``principal``."""
    headers = dict(headers or {})
    added = lattice_client.sign(
        method,
        lattice.url + path,
        headers,
        credentials=principal.credentials,
        region=lattice.region,
        sigv4a=sigv4a,
        now=now,
    )
    return {**headers, **added}


def call(
    lattice: LocalLattice, method: str, path: str, headers: dict[str, str], content: bytes = b""
) -> httpx.Response:
    with httpx.Client(base_url=lattice.url, trust_env=False) as client:
        return client.request(method, path, headers=headers, content=content)


def denial(principal: str, path: str, *, explicit: bool = False) -> str:
    """Lattice's documented 403 body."""
    head = (
        f"AccessDeniedException: User: {principal} is not authorized to perform: "
        f"vpc-lattice-svcs:Invoke on resource: {SERVICE_ARN}{path} "
    )
    if explicit:
        return head + "with an explicit deny in a service-based policy"
    return head + "because no service-based policy allows the vpc-lattice-svcs:Invoke action"


@pytest.mark.parametrize("sigv4a", [False, True], ids=["sigv4", "sigv4a"])
def test_signed_request_reaches_the_target_with_lattices_headers(
    lattice: LocalLattice, *, sigv4a: bool
) -> None:
    """An allowed signed call is forwarded unchanged plus identity headers, spoofed ones removed."""
    spoofed = {
        "x-amzn-lattice-identity": "Principal=arn:aws:iam::999999999999:root",
        "x-forwarded-for": "6.6.6.6",
    }
    headers = signed(lattice, "POST", "/orders/7?view=full", sigv4a=sigv4a)
    response = call(lattice, "POST", "/orders/7?view=full", {**headers, **spoofed}, b"payload")
    assert response.status_code == 200
    assert response.json()["target"] == "/orders/7?view=full"
    assert response.json()["size"] == len(b"payload")
    seen = headers_seen(response)
    assert seen["x-amzn-lattice-identity"] == [
        f"Principal={CALLER.arn}; SessionName=job-7; Type=AWS_IAM"
    ]
    assert seen["x-forwarded-for"] == ["127.0.0.1"]
    parsed = lattice_client.parse_lattice_headers(response.json()["headers"])
    assert parsed.identity.principal == CALLER.arn
    assert parsed.identity.source_vpc_arn == lattice.names.source_vpc_arn
    assert parsed.service_arn == SERVICE_ARN
    assert parsed.target_group_arn == lattice.names.target_group_arn


def test_lattice_client_clients_are_accepted(lattice: LocalLattice) -> None:
    """lattice_client.Client's signed calls pass the stand-in's independent verification."""
    with lattice_client.Client(
        base_url=lattice.url, credentials=CALLER.credentials, region=lattice.region
    ) as client:
        response = client.put("/items/1", content=b"x" * 1000, headers={"x-color": "blue"})
    assert response.status_code == 200
    assert response.json()["size"] == 1000


def test_target_sees_no_header_the_caller_did_not_send(lattice: LocalLattice) -> None:
    """Forwarding adds Lattice's headers only, none of the proxy's client (Accept, User-Agent)."""
    headers = signed(lattice, "GET", "/plain")
    with httpx.Client(base_url=lattice.url, trust_env=False) as client:
        request = client.build_request("GET", "/plain", headers=headers)
        for name in ("accept", "accept-encoding", "user-agent"):
            del request.headers[name]
        response = client.send(request)
    assert response.status_code == 200
    seen = headers_seen(response)
    assert not {"accept", "accept-encoding", "user-agent"} & set(seen)


def test_non_ascii_header_value_verifies_as_the_utf8_bytes_sent(lattice: LocalLattice) -> None:
    """A header value outside ASCII goes out as UTF-8 bytes and is verified over those bytes."""
    with lattice_client.Client(
        base_url=lattice.url, credentials=CALLER.credentials, region=lattice.region
    ) as client:
        response = client.get("/items/1", headers={b"x-label": "café ☕".encode()})
    assert response.status_code == 200
    assert headers_seen(response)["x-label"] == ["café ☕"]


@pytest.mark.anyio
async def test_async_client_over_http2_and_tls() -> None:
    """HTTP/2 over TLS (ALPN, generated certificate) works, as with a Lattice HTTPS listener."""
    async with LocalLattice(app=echo, tls=True) as running:
        assert running.ca_file is not None
        async with lattice_client.AsyncClient(
            base_url=running.url,
            credentials=running.credentials,
            region=running.region,
            http2=True,
            verify=running.ssl_context(),
        ) as client:
            response = await client.get("/tls?x=1")
    assert (response.status_code, response.http_version) == (200, "HTTP/2")
    assert headers_seen(response)["x-forwarded-proto"] == ["https"]


def test_http2_cleartext_prior_knowledge(lattice: LocalLattice) -> None:
    """HTTP/2 without TLS (prior knowledge, as gRPC uses) is served and verified."""
    headers = signed(lattice, "GET", "/h2c")
    with httpx.Client(http1=False, http2=True, trust_env=False) as client:
        response = client.get(lattice.url + "/h2c", headers=headers)
    assert (response.status_code, response.http_version) == (200, "HTTP/2")


def test_wrong_secret(lattice: LocalLattice) -> None:
    """A signature made with the wrong secret gets 403 InvalidSignatureException."""
    key = CALLER.credentials.access_key_id
    token = CALLER.credentials.session_token
    forged = Principal(CALLER.arn, lattice_client.Credentials(key, "wrong-secret", token))
    response = call(lattice, "GET", "/a", signed(lattice, "GET", "/a", forged))
    assert response.status_code == 403
    assert response.text.startswith(
        "InvalidSignatureException: The request signature we calculated does not match"
    )


def test_missing_token(lattice: LocalLattice) -> None:
    """A signed session token left off the request gets Lattice's IncompleteSignature body."""
    headers = signed(lattice, "GET", "/a")
    del headers["x-amz-security-token"]
    response = call(lattice, "GET", "/a", headers)
    assert (response.status_code, response.text) == (
        403,
        "IncompleteSignatureException: 'x-amz-security-token' is named as a SignedHeader, "
        "but it does not exist in the HTTP request",
    )


@pytest.mark.parametrize(
    ("sent_path", "extra"),
    [
        ("/orders/8?view=full", {}),
        ("/orders/7?view=summary", {}),
        ("/orders/7?view=full", {"x-color": "red"}),
    ],
    ids=["path", "query", "signed-header"],
)
def test_tampered_request(lattice: LocalLattice, sent_path: str, extra: dict[str, str]) -> None:
    """A path, query or signed header changed after signing gets 403 InvalidSignatureException."""
    headers = signed(lattice, "GET", "/orders/7?view=full", headers={"x-color": "blue"})
    response = call(lattice, "GET", sent_path, {**headers, **extra})
    assert response.status_code == 403
    assert response.text.startswith("InvalidSignatureException: ")


def test_expired_timestamp(lattice: LocalLattice) -> None:
    """A request signed ten minutes ago gets 403 with the AWS-wide 'Signature expired' text."""
    old = datetime.now(timezone.utc) - timedelta(minutes=10)
    response = call(lattice, "GET", "/a", signed(lattice, "GET", "/a", now=old))
    assert response.status_code == 403
    assert response.text.startswith("InvalidSignatureException: Signature expired: ")


def test_hashed_payload(lattice: LocalLattice) -> None:
    """A request whose x-amz-content-sha256 is a real hash: 'Signed payloads are not supported'."""
    headers = signed(lattice, "POST", "/a")
    headers["x-amz-content-sha256"] = (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    response = call(lattice, "POST", "/a", headers)
    assert (response.status_code, response.text) == (
        403,
        "InvalidSignatureException: Signed payloads are not supported",
    )


def test_unsigned_request_to_an_aws_iam_service(lattice: LocalLattice) -> None:
    """An unsigned request gets Lattice's 403 naming 'User: anonymous'; the target never sees it."""
    response = call(lattice, "POST", "/orders", {}, b"body")
    assert (response.status_code, response.text) == (403, denial("anonymous", "/orders"))
    assert response.headers["content-type"] == "text/plain"
    assert "x-target" not in response.headers


def test_anonymous_allowed_where_the_policy_says_so(lattice: LocalLattice) -> None:
    """Principal '*' lets anonymous callers in, within its resource and method condition."""
    assert call(lattice, "GET", "/health", {}).status_code == 200
    response = call(lattice, "POST", "/health", {})
    assert (response.status_code, response.text) == (403, denial("anonymous", "/health"))


def test_denied_principal(lattice: LocalLattice) -> None:
    """A verified principal the policy does not allow gets the implicit-deny 403 naming it."""
    response = call(lattice, "GET", "/orders", signed(lattice, "GET", "/orders", INTRUDER))
    assert (response.status_code, response.text) == (403, denial(INTRUDER.arn, "/orders"))


def test_role_and_account_principals(lattice: LocalLattice) -> None:
    """A role ARN in a policy matches its sessions; an account id matches its principals."""
    path = "/public/doc"
    assert call(lattice, "GET", path, signed(lattice, "GET", path, INTRUDER)).status_code == 200
    assert call(lattice, "GET", path, signed(lattice, "GET", path, OTHER)).status_code == 200


def test_explicit_deny(lattice: LocalLattice) -> None:
    """A matching Deny statement wins over an Allow, with the explicit-deny wording."""
    response = call(lattice, "GET", "/admin/users", signed(lattice, "GET", "/admin/users"))
    assert (response.status_code, response.text) == (
        403,
        denial(CALLER.arn, "/admin/users", explicit=True),
    )
    ticket = signed(lattice, "GET", "/admin/users", headers={"x-ticket": "T-1"})
    assert call(lattice, "GET", "/admin/users", ticket).status_code == 200


def test_fixed_responses_and_rule_conditions(lattice: LocalLattice) -> None:
    """Fixed-response rules answer 404/500 themselves; a rule's method and exact path must match."""
    gone = call(lattice, "GET", "/gone/x", signed(lattice, "GET", "/gone/x"))
    assert (gone.status_code, gone.content) == (404, b"")
    assert call(lattice, "POST", "/broken", signed(lattice, "POST", "/broken")).status_code == 500
    assert call(lattice, "GET", "/broken", signed(lattice, "GET", "/broken")).status_code == 200
    assert (
        call(lattice, "POST", "/broken/x", signed(lattice, "POST", "/broken/x")).status_code == 200
    )


def test_rule_forwards_to_its_own_target() -> None:
    """A rule with target= sends matching requests to that target, the rest to the default."""

    async def v2(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"v2"})

    with (
        LocalLattice(app=v2, auth_type="NONE") as second,
        LocalLattice(
            app=echo, rules=[Rule("/v2/", target=second.url)], principals=[CALLER]
        ) as front,
    ):
        assert call(front, "GET", "/v2/x", signed(front, "GET", "/v2/x")).text == "v2"
        assert call(front, "GET", "/v1/x", signed(front, "GET", "/v1/x")).status_code == 200
        assert call(front, "GET", "/v1/x", signed(front, "GET", "/v1/x")).text != "v2"


def test_no_rule_and_no_target_is_a_404() -> None:
    """With no target and no matching rule, Lattice's default answer is 404."""
    with LocalLattice(rules=[Rule("/ok", fixed_response=500)]) as running:
        response = call(running, "GET", "/x", signed(running, "GET", "/x", running.principal))
    assert response.status_code == 404


def test_auth_type_none_forwards_everything_without_identity() -> None:
    """With auth type NONE nothing is verified and no identity header is added."""
    with LocalLattice(app=echo, auth_type="NONE") as running:
        response = call(running, "GET", "/open", {"authorization": "garbage"})
    assert response.status_code == 200
    seen = headers_seen(response)
    assert "x-amzn-lattice-identity" not in seen
    assert seen["x-amzn-lattice-network"] == [f"SourceVpcArn={running.names.source_vpc_arn}"]


def test_access_log_records_each_request(lattice: LocalLattice) -> None:
    """Every request leaves one record shaped like Lattice's access logs, without secrets."""
    lattice.clear_access_log()
    call(lattice, "GET", "/orders?id=1", signed(lattice, "GET", "/orders?id=1"))
    call(lattice, "GET", "/orders", {})
    allowed, denied = lattice.access_log
    assert allowed["callerPrincipal"] == CALLER.arn
    assert (allowed["responseCode"], allowed["authDeniedReason"]) == (200, "-")
    assert allowed["requestPath"] == "/orders?id=1"
    assert allowed["targetGroupArn"] == lattice.names.target_group_arn
    assert isinstance(allowed["duration"], int)
    assert (denied["responseCode"], denied["callerPrincipal"]) == (403, "-")
    assert denied["authDeniedReason"] == denial("anonymous", "/orders")
    text = json.dumps(lattice.access_log)
    assert CALLER.credentials.secret_access_key not in text
    assert str(CALLER.credentials.session_token) not in text


def test_unreachable_target_is_a_5xx() -> None:
    """A target that refuses connections gets a 503 from the stand-in, not a hang."""
    with LocalLattice("http://127.0.0.1:9", auth_type="NONE") as running:
        response = call(running, "GET", "/", {})
    assert response.status_code == 503
    assert running.access_log[-1]["failureReason"] != "-"


def test_bad_configuration_is_refused_up_front() -> None:
    """Policies and rules the stand-in cannot honour fail when built, naming what is wrong."""
    unknown_key = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceIp": "10.0.0.1"}},
    }
    with pytest.raises(PolicyError, match="condition key"):
        AuthPolicy({"Statement": [unknown_key]})
    with pytest.raises(PolicyError, match="Effect"):
        AuthPolicy('{"Statement": [{"Effect": "Maybe"}]}')
    with pytest.raises(lattice_client.ConfigurationError, match="404 or 500"):
        Rule("/x", fixed_response=403)  # type: ignore[arg-type]
    with pytest.raises(lattice_client.ConfigurationError, match="not both"):
        LocalLattice("http://127.0.0.1:1", app=echo)
    twin = Principal("arn:aws:iam::111122223333:user/twin", CALLER.credentials)
    with pytest.raises(lattice_client.ConfigurationError, match="share an access key"):
        LocalLattice(app=echo, principals=[CALLER, twin])
    with pytest.raises(lattice_client.ConfigurationError, match="not an IAM or STS principal"):
        Principal.generate("arn:aws:s3:::bucket")


def test_wsgi_app_behind_the_stand_in() -> None:
    """A WSGI app (Flask, Django...) can be the target as well as an ASGI one."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        return [environ.get("HTTP_X_AMZN_LATTICE_IDENTITY", "").encode()]

    with (
        LocalLattice(app=wsgi) as running,
        lattice_client.Client(
            base_url=running.url, credentials=running.credentials, region=running.region
        ) as client,
    ):
        response = client.get("/wsgi")
    assert response.text.startswith(f"Principal={running.principal.arn}; ")


def test_client_leaving_mid_download_stops_the_relay() -> None:
    """When the caller hangs up during a large response, the stand-in stops relaying it."""
    chunk = b"\0" * 65536
    total = 4096 * len(chunk)

    async def source(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        gone = asyncio.ensure_future(receive())  # the request has no body: next is disconnect
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(total // len(chunk)):
            if gone.done():
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        gone.cancel()
        await send({"type": "http.response.body", "body": b""})

    recorded = threading.Event()
    records: list[dict[str, Any]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(json.loads(record.getMessage()))
            recorded.set()

    handler = Collect()
    access_log = logging.getLogger("lattice_client.testing.access")
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    try:
        with LocalLattice(app=source, auth_type="NONE") as running:
            with (
                httpx.Client(trust_env=False) as client,
                client.stream("GET", running.url + "/big") as response,
            ):
                next(response.iter_raw())
            assert recorded.wait(30), "the stand-in never finished the abandoned response"
    finally:
        access_log.removeHandler(handler)
        access_log.setLevel(logging.NOTSET)
    assert records[0]["failureReason"] == "ClientDisconnected"
    assert records[0]["bytesSent"] < total
