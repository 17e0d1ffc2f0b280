"""`lattice_client.aws_lambda.parse_event`: Lattice's Lambda events (V1, V2) as typed requests."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lattice_client import LatticeError, LatticeIdentity
from lattice_client.aws_lambda import InvalidEventError, LatticeRequest, parse_event

# Copies of published sample events (tests/data/lattice-events/README.md says whence).
EVENTS = Path(__file__).resolve().parent / "data" / "lattice-events"


def load(name: str) -> dict[str, Any]:
    path = EVENTS / name
    if not path.is_file():
        raise FileNotFoundError(f"sample event {path} is missing from the checkout")
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return event


def test_the_samples_directory_is_there() -> None:
    """The sample events exist, so the sample tests below cannot pass vacuously."""
    assert sorted(p.name for p in EVENTS.glob("*.json")) == [
        "v1-event.json",
        "v2-event-multivalue.json",
        "v2-event.json",
    ]


@pytest.mark.parametrize("name", ["v1-event.json", "v2-event-multivalue.json", "v2-event.json"])
def test_every_sample_parses(name: str) -> None:
    """Each published sample event parses into a request with its method, path and body."""
    request = parse_event(load(name))
    assert isinstance(request, LatticeRequest)
    assert request.method == "GET"
    assert request.path.startswith("/")
    assert request.body


def test_v1_sample() -> None:
    """V1: snake_case keys, string headers kept as sent, base64 body decoded, no context."""
    request = parse_event(load("v1-event.json"))
    assert request.version == "1.0"
    assert request.path == "/testpath"
    assert request.query["order-id"] == "1"
    assert request.headers["Header2"] == "value1,value2"
    assert request.headers.get_list("header2") == ["value1,value2"]
    assert request.body == b'{"test": "event"}'
    assert request.json() == {"test": "event"}
    assert request.identity == LatticeIdentity()
    assert (request.service_arn, request.region, request.time) == (None, None, None)


def test_v2_multivalue_sample() -> None:
    """V2 with lists: every header and query value kept, the whole request context read."""
    request = parse_event(load("v2-event-multivalue.json"))
    assert request.version == "2.0"
    assert request.path == "/newpath"
    assert request.headers.get_list("POWERTOOLS") == ["a", "b"]
    assert request.headers["powertools"] == "a, b"
    assert request.headers["Accept"] == "*/*"
    assert "HOST" in request.headers
    assert request.query.get_list("parameter1") == ["value1", "value2"]
    assert request.query["parameter1"] == "value1"
    assert request.text == '{"message": "Hello from Lambda!"}'
    assert request.service_arn == (
        "arn:aws:vpc-lattice:us-east-2:123456789012:service/svc-0a40eebed65f8d69c"
    )
    assert request.service_network_arn is not None
    assert request.service_network_arn.endswith("servicenetwork/sn-0bf3f2882e9cc805a")
    assert request.target_group_arn is not None
    assert request.target_group_arn.endswith("targetgroup/tg-6d0ecf831eec9f09")
    assert request.region == "us-east-2"
    assert request.time == datetime(2023, 10, 3, 11, 12, 23, 569073, tzinfo=timezone.utc)
    identity = request.identity
    assert identity.type == "AWS_IAM"
    assert identity.principal is not None
    assert identity.principal.startswith("arn:aws:sts::123456789012:assumed-role/example-role/")
    assert identity.session_name == "057d00f8b51257ba3c853a0f248943cf"
    assert identity.source_vpc_arn == "arn:aws:ec2:region:123456789012:vpc/vpc-0b8276c84697e7339"
    assert identity.x509_san_dns == "example.com"
    assert identity.principal_org_id is None


def test_v2_sample_with_snake_case_query() -> None:
    """The V2 sample that spells its query ``query_string_parameters`` still yields the query."""
    request = parse_event(load("v2-event.json"))
    assert request.query["order-id"] == "1"
    assert request.headers["user_agent"] == "curl/7.64.1"
    assert request.time == datetime(2023, 7, 27, 22, 39, 59, 177430, tzinfo=timezone.utc)


def test_identity_keys_match_in_any_spelling() -> None:
    """Identity keys from different sources (principalOrgID/Id, X509SubjectCn...) all land."""
    event = load("v2-event-multivalue.json")
    event["requestContext"]["identity"] = {
        "principalOrgId": "o-123",
        "X509SubjectCn": "subject",
        "x509IssuerOu": "issuer",
        "x509SanNameCn": "name",
        "x509SanUri": "spiffe://x",
        "PrincipalOrgPath": "o-123/r-1/",
        "brandNewKey": "kept",
        "brandNewObject": {"a": [1]},
        "sessionName": "",
    }
    identity = parse_event(event).identity
    assert identity.principal_org_id == "o-123"
    assert identity.x509_subject_cn == "subject"
    assert identity.x509_issuer_ou == "issuer"
    assert identity.x509_san_name_cn == "name"
    assert identity.x509_san_uri == "spiffe://x"
    assert identity.principal_org_path == "o-123/r-1/"
    assert identity.other == {"brandNewKey": "kept", "brandNewObject": '{"a":[1]}'}
    assert identity.session_name is None


def test_binary_body_and_string_flag() -> None:
    """A base64 body is decoded to the exact bytes, also when the flag is the string "true"."""
    payload = bytes(range(256))
    event = load("v2-event.json")
    event.update(body=base64.b64encode(payload).decode(), isBase64Encoded="true")
    assert parse_event(event).body == payload


def test_missing_optional_parts_are_empty() -> None:
    """Only method and path are required: no headers, query or body means empty ones."""
    request = parse_event({"version": "2.0", "method": "POST", "path": "/", "body": None})
    assert request.body == b""
    assert len(request.headers) == 0
    assert request.query.get_list("x") == []
    assert request.time is None


def test_headers_repr_hides_credentials() -> None:
    """A request's headers can be logged without leaking an Authorization or token value."""
    event = load("v2-event-multivalue.json")
    event["headers"]["Authorization"] = ["AWS4-HMAC-SHA256 Credential=AKID/secret-signature"]
    event["headers"]["x-amz-security-token"] = ["token-value"]
    shown = repr(parse_event(event).headers)
    assert "secret-signature" not in shown
    assert "token-value" not in shown
    assert "[redacted]" in shown


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"method": None}, "method"),
        ({"method": 7}, "method"),
        ({"path": None}, "path"),
        ({"path": ["/"]}, "path"),
        ({"headers": "accept: */*"}, "headers"),
        ({"headers": {"accept": 1}}, "headers['accept']"),
        ({"headers": {"accept": ["a", None]}}, "headers['accept'][1]"),
        ({"queryStringParameters": ["a"]}, "queryStringParameters"),
        ({"body": 12}, "body"),
        ({"body": "not base64!", "isBase64Encoded": True}, "body"),
        ({"isBase64Encoded": "yes"}, "isBase64Encoded"),
        ({"version": "3.0"}, "version"),
        ({"requestContext": "ctx"}, "requestContext"),
        ({"requestContext": {"timeEpoch": "soon"}}, "requestContext.timeEpoch"),
        ({"requestContext": {"timeEpoch": "9" * 20}}, "requestContext.timeEpoch"),
        ({"requestContext": {"region": 1}}, "requestContext.region"),
        ({"requestContext": {"identity": {"principal": 5}}}, "requestContext.identity.principal"),
    ],
)
def test_bad_fields_are_named(change: dict[str, Any], field: str) -> None:
    """Each kind of wrong field gets an InvalidEventError whose field and message name it."""
    event = load("v2-event-multivalue.json")
    event.update(change)
    if change.get("method", 0) is None:
        del event["method"]
    with pytest.raises(InvalidEventError) as caught:
        parse_event(event)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert isinstance(caught.value, LatticeError)
    assert isinstance(caught.value, ValueError)


def test_missing_path_names_both_spellings() -> None:
    """A missing path says that ``path`` or ``raw_path`` is needed."""
    with pytest.raises(InvalidEventError, match=r"path is missing \(or raw_path\)"):
        parse_event({"method": "GET"})


def test_not_an_object() -> None:
    """Something that is not a JSON object is refused as a whole."""
    with pytest.raises(InvalidEventError) as caught:
        parse_event(["GET", "/"])
    assert caught.value.field == "event"


@pytest.mark.parametrize("encoded", [False, True])
def test_body_over_six_megabytes(encoded: bool) -> None:
    """A body over Lattice's 6 MB limit is refused, plain or base64, naming the body."""
    raw = b"x" * (6 * 1024 * 1024 + 1)
    event = load("v2-event.json")
    event.update(
        body=base64.b64encode(raw).decode() if encoded else raw.decode(),
        isBase64Encoded=encoded,
    )
    with pytest.raises(InvalidEventError, match="larger than") as caught:
        parse_event(event)
    assert caught.value.field == "body"


def test_body_at_six_megabytes_is_accepted() -> None:
    """A body of exactly the limit still parses."""
    raw = b"x" * (6 * 1024 * 1024)
    event = load("v2-event.json")
    event.update(body=base64.b64encode(raw).decode(), isBase64Encoded=True)
    assert len(parse_event(event).body) == len(raw)


# Anything JSON can carry, to put where the parser expects something else.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


SAMPLES = ["v1-event.json", "v2-event-multivalue.json", "v2-event.json"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data(), sample=st.sampled_from(SAMPLES))
def test_mutated_events_fail_only_with_invalid_event_error(
    data: st.DataObject, sample: str
) -> None:
    """Replacing or deleting any part of a valid event gives a request or InvalidEventError."""
    event = copy.deepcopy(load(sample))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(event)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent: Any = event
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()):
            parent[path[-1]] = data.draw(json_values)
        else:
            del parent[path[-1]]
    error: InvalidEventError | None = None
    try:
        request = parse_event(event)
    except InvalidEventError as exc:
        error = exc
    if error is None:
        assert isinstance(request.body, bytes)
        assert isinstance(request.method, str)
    else:
        top_level = error.field.split(".")[0].split("[")[0]
        assert top_level in {*event.keys(), "event", "path", "method"}


@settings(max_examples=200, deadline=None)
@given(event=json_values)
def test_arbitrary_json_fails_only_with_invalid_event_error(event: object) -> None:
    """Any JSON value at all parses or raises InvalidEventError, never KeyError or TypeError."""
    with contextlib.suppress(InvalidEventError):
        parse_event(event)
