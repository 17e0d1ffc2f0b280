"""`lattice_client.parse_lattice_headers`: the caller identity an HTTP target gets in headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lattice_client import (
    ConfigurationError,
    LatticeHeaders,
    LatticeHeadersError,
    LatticeIdentity,
    parse_lattice_headers,
)

PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/caller/i-0abc"
CAPTURE = {
    "x-amzn-lattice-identity": (
        f"Principal={PRINCIPAL}; PrincipalOrgID=o-abc123; SessionName=i-0abc; Type=AWS_IAM"
    ),
    "x-amzn-lattice-identity-tags": (
        f"principal={PRINCIPAL};principalorgid=o-abc123;team=pay\\;ments;env=prod"
    ),
    "x-amzn-lattice-network": "SourceVpcArn=arn:aws:ec2:us-west-2:123456789012:vpc/vpc-0abc",
    "x-amzn-lattice-target": (
        "ServiceArn=arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-1;"
        "ServiceNetworkArn=arn:aws:vpc-lattice:us-west-2:123456789012:servicenetwork/sn-1;"
        "TargetGroupArn=arn:aws:vpc-lattice:us-west-2:123456789012:targetgroup/tg-1"
    ),
    "host": "svc.example",
}


def test_documented_headers() -> None:
    """The four documented headers fill identity, tags, source VPC and the target ARNs."""
    parsed = parse_lattice_headers(CAPTURE)
    assert parsed.identity.principal == PRINCIPAL
    assert parsed.identity.principal_org_id == "o-abc123"
    assert parsed.identity.session_name == "i-0abc"
    assert parsed.identity.type == "AWS_IAM"
    assert parsed.identity.source_vpc_arn == "arn:aws:ec2:us-west-2:123456789012:vpc/vpc-0abc"
    assert parsed.identity.tags == {
        "principal": PRINCIPAL,
        "principalorgid": "o-abc123",
        "team": "pay;ments",
        "env": "prod",
    }
    assert parsed.service_arn is not None
    assert parsed.service_arn.endswith(":service/svc-1")
    assert parsed.service_network_arn is not None
    assert parsed.service_network_arn.endswith(":servicenetwork/sn-1")
    assert parsed.target_group_arn is not None
    assert parsed.target_group_arn.endswith(":targetgroup/tg-1")


def test_roles_anywhere_keys_and_unknown_keys() -> None:
    """X.509 keys map to snake_case attributes; keys we do not know are kept as sent."""
    parsed = parse_lattice_headers(
        {
            "X-Amzn-Lattice-Identity": (
                "Type=AWS_IAM;X509Issuer/OU=ops;X509SAN/DNS=a.example;X509SAN/NameCN=n;"
                "X509SAN/URI=spiffe://td/w;X509Subject/CN=cn;PrincipalOrgPath=o-1/r-1/;Future=1"
            ),
            "x-amzn-lattice-target": "ServiceArn=s;NewTargetKey=v",
        }
    )
    identity = parsed.identity
    assert identity.x509_issuer_ou == "ops"
    assert identity.x509_san_dns == "a.example"
    assert identity.x509_san_name_cn == "n"
    assert identity.x509_san_uri == "spiffe://td/w"
    assert identity.x509_subject_cn == "cn"
    assert identity.principal_org_path == "o-1/r-1/"
    assert identity.other == {"Future": "1"}
    assert parsed.other == {"NewTargetKey": "v"}


def test_empty_values_and_stray_separators() -> None:
    """Empty values are absent (None), empty parts and spaces are ignored, `=` in a value kept."""
    parsed = parse_lattice_headers(
        {"x-amzn-lattice-identity": " ; Principal= ;SessionName=a=b;;Type=AWS_IAM ;"}
    )
    assert parsed.identity.principal is None
    assert parsed.identity.session_name == "a=b"
    assert parsed.identity.type == "AWS_IAM"


def test_backslashes() -> None:
    """``\\;`` and ``\\\\`` are escapes; any other backslash stays as sent."""
    parsed = parse_lattice_headers(
        [("x-amzn-lattice-identity-tags", "a=x\\;y;b=c\\\\;d=e\\nf;g=trailing\\")]
    )
    assert parsed.identity.tags == {"a": "x;y", "b": "c\\", "d": "e\\nf", "g": "trailing\\"}


def test_no_lattice_headers() -> None:
    """A request that did not come through Lattice has an empty identity, not an error."""
    assert parse_lattice_headers({"host": "x"}) == LatticeHeaders(identity=LatticeIdentity())


@pytest.mark.parametrize(
    "headers",
    [
        {"X-AMZN-LATTICE-NETWORK": "SourceVpcArn=v"},
        {"x-amzn-lattice-network": ["SourceVpcArn=v"]},
        [("X-Amzn-Lattice-Network", "SourceVpcArn=v"), ("x-amzn-lattice-networks", "x=1")],
        [(b"x-amzn-lattice-network", b"SourceVpcArn=v")],
    ],
)
def test_framework_header_shapes(headers: object) -> None:
    """Dicts, lists of values, pairs and ASGI byte pairs all work."""
    assert parse_lattice_headers(headers).identity.source_vpc_arn == "v"  # type: ignore[arg-type]


REAL = "Principal=arn:aws:sts::111122223333:assumed-role/app/s; SessionName=s; Type=AWS_IAM"
FORGED = "Principal=arn:aws:iam::999999999999:role/admin; Type=AWS_IAM"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amzn-lattice-identity": [FORGED, REAL]},
        [("x_amzn_lattice_identity", FORGED), ("x-amzn-lattice-identity", REAL)],
        # What a WSGI server makes of a caller's x_amzn_lattice_identity plus Lattice's own:
        {"x-amzn-lattice-identity": f"{FORGED},{REAL}"},
        {"x-amzn-lattice-identity": f"Principal=arn:aws:iam::999999999999:root,{REAL}"},
        {"x-amzn-lattice-identity": f"anything,{REAL}"},
        {"x-amzn-lattice-network": "SourceVpcArn=forged,SourceVpcArn=real"},
        {"x-amzn-lattice-target": "ServiceArn=forged,ServiceArn=real;TargetGroupArn=t"},
    ],
)
def test_joined_identity_headers_are_refused_not_read_as_the_forged_principal(
    headers: object,
) -> None:
    """A repeated or joined identity header raises instead of yielding the caller's forgery."""
    with pytest.raises(LatticeHeadersError, match="once"):
        parse_lattice_headers(headers)  # type: ignore[arg-type]


def test_commas_inside_a_single_value_are_kept() -> None:
    """IAM names may contain commas: one value with a comma is not mistaken for two."""
    parsed = parse_lattice_headers(
        {"x-amzn-lattice-identity": "Principal=arn:aws:iam::1:role/a,b; SessionName=x,y"}
    )
    assert (parsed.identity.principal, parsed.identity.session_name) == (
        "arn:aws:iam::1:role/a,b",
        "x,y",
    )


def test_bad_header_containers() -> None:
    """Something that is not headers gets a ConfigurationError saying what was expected."""
    with pytest.raises(ConfigurationError, match="mapping or an iterable"):
        parse_lattice_headers("x-amzn-lattice-identity: Type=AWS_IAM")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="pairs"):
        parse_lattice_headers([("a", "b", "c")])  # type: ignore[list-item]


keys = st.text(alphabet="ABCdef/_-0", min_size=1, max_size=8).filter(lambda k: k.strip())
values = st.text(alphabet="abc;\\= xyz:/", max_size=10)


@given(st.dictionaries(keys, values, max_size=5), st.randoms())
def test_escaped_values_round_trip_in_any_order(fields: dict[str, str], rnd: object) -> None:
    """Any values, escaped as Lattice escapes them and in any order, come back unchanged."""
    items = list(fields.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    header = ";".join(
        f"{key}={value.replace(chr(92), chr(92) * 2).replace(';', chr(92) + ';')}"
        for key, value in items
    )
    tags = parse_lattice_headers({"x-amzn-lattice-identity-tags": header}).identity.tags
    assert tags == {key.strip(): value.strip() for key, value in fields.items()}
