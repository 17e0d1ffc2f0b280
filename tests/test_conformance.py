"""AWS's published SigV4/SigV4A test vectors, checked byte for byte at every step.

The vectors live in ``tests/data/sigv4-test-suite/`` (see its
README for which cases apply to a Lattice signer and why). Each case is signed
with the pure core, `lattice_client._signing.sign_request`, which lets a test set
the payload line and the ``x-amz-content-sha256`` header the vector needs; the
canonical request, the string to sign and the signature are compared with the
vector's files. SigV4A signatures are random, so for those the derived public
key is compared and the signature verified with awscrt against the vector's key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from _pytest.mark import ParameterSet
from awscrt.crypto import EC

from lattice_client import Credentials
from lattice_client._signing import sign_request
from lattice_client._sigv4a import derive_private_key, public_key

SUITE = Path(__file__).resolve().parent / "data" / "sigv4-test-suite"
if not (SUITE / "README.md").is_file():  # pragma: no cover - a broken checkout, not a test result
    raise RuntimeError(
        f"the SigV4 test vectors are missing: expected {SUITE} (a complete checkout has them)"
    )

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# The 2015 suite's fixed inputs (botocore/README and every aws-c-auth context.json).
BOTOCORE_CREDENTIALS = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
BOTOCORE_TIME = datetime.fromisoformat("2015-08-30T12:36:00+00:00")
# SubjectPublicKeyInfo DER prefix for an uncompressed P-256 point (id-ecPublicKey, prime256v1).
P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703420004")


@dataclass
class RawRequest:
    """``request.txt`` parsed by the suite's rules."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def host(self) -> str:
        return next(value for name, value in self.headers if name.lower() == "host")


def parse_request(raw: bytes) -> RawRequest:
    """Parse a raw HTTP/1.1 request as the suite writes it (raw UTF-8, folded headers)."""
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode("utf-8").split("\n")
    request_line = lines[0]
    # The path may hold a raw space: strip the protocol instead of splitting on spaces.
    method, _, target = request_line.removesuffix(" HTTP/1.1").partition(" ")
    path, _, query = target.partition("?")
    request = RawRequest(method, path, query, body=body)
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            # Obsolete line folding: the line continues the previous header's value.
            name, value = request.headers[-1]
            request.headers[-1] = (name, f"{value} {line.strip()}")
        else:
            name, _, value = line.partition(":")
            request.headers.append((name, value))
    return request


@dataclass
class Case:
    """One test vector: inputs and the expected results of each signing step."""

    name: str
    request: RawRequest
    credentials: Credentials
    region: str
    service: str
    now: datetime
    payload_hash: str
    content_sha256_header: bool
    canonical_request: str
    string_to_sign: str
    signature: str | None
    public_key: tuple[str, str] | None = None


def _aws_c_auth_case(folder: Path, label: str) -> Case:
    context = json.loads((folder / "context.json").read_text())
    creds = context["credentials"]
    request = parse_request((folder / "request.txt").read_bytes())
    if "signed_body_value" in context:
        payload_hash, header = context["signed_body_value"], True
    elif context["sign_body"]:
        payload_hash, header = hashlib.sha256(request.body).hexdigest(), True
    else:
        payload_hash, header = EMPTY_SHA256, False
    is_v4a = (folder / "public-key.json").exists()
    key = json.loads((folder / "public-key.json").read_text()) if is_v4a else None
    return Case(
        name=label,
        request=request,
        credentials=Credentials(
            creds["access_key_id"], creds["secret_access_key"], creds.get("token")
        ),
        region=context["region"],
        service=context["service"],
        now=datetime.fromisoformat(context["timestamp"].replace("Z", "+00:00")),
        payload_hash=payload_hash,
        content_sha256_header=header,
        canonical_request=(folder / "header-canonical-request.txt").read_text(),
        string_to_sign=(folder / "header-string-to-sign.txt").read_text(),
        signature=None if is_v4a else (folder / "header-signature.txt").read_text(),
        public_key=(key["X"], key["Y"]) if key else None,
    )


def _botocore_case(req: Path) -> Case:
    stem = req.with_suffix("")
    request = parse_request(req.read_bytes())
    canonical_request = stem.with_suffix(".creq").read_text()
    # The token cases carry their token only in the canonical request.
    token = next(
        (
            line.partition(":")[2]
            for line in canonical_request.split("\n")
            if line.startswith("x-amz-security-token:")
        ),
        None,
    )
    authorization = stem.with_suffix(".authz").read_text().strip()
    return Case(
        name=f"botocore/{req.parent.relative_to(SUITE / 'botocore')}",
        request=request,
        credentials=Credentials(*BOTOCORE_CREDENTIALS, token),
        region="us-east-1",
        service="service",
        now=BOTOCORE_TIME,
        payload_hash=canonical_request.rsplit("\n", 1)[1],
        content_sha256_header=False,
        canonical_request=canonical_request,
        string_to_sign=stem.with_suffix(".sts").read_text(),
        signature=authorization.rpartition("Signature=")[2],
    )


# Cases that do not apply to a Lattice signer, with the reason (see the suite's README).
NOT_APPLICABLE = {
    "post-sts-header-after": "the token is added after signing, unsigned; Lattice rejects that",
}


def _cases(flavour: str) -> list[ParameterSet]:
    params = []
    folders = sorted((SUITE / "aws-c-auth" / flavour).iterdir())
    folders += sorted((SUITE / "aws-c-auth-unsigned-payload" / flavour).iterdir())
    for folder in folders:
        label = f"{folder.parent.parent.name}/{flavour}/{folder.name}"
        if not (folder / "header-canonical-request.txt").exists():
            continue  # v4a get-vanilla-query-order-key/-value: inputs only, not full cases
        context = json.loads((folder / "context.json").read_text())
        if not context["normalize"]:
            continue  # the *-unnormalized cases follow S3's path rules, not Lattice's
        marks = []
        if folder.name in NOT_APPLICABLE:
            marks.append(pytest.mark.skip(reason=NOT_APPLICABLE[folder.name]))
        params.append(pytest.param(folder, id=label, marks=marks))
    return params


V4_CASES = _cases("v4")
V4A_CASES = _cases("v4a")
BOTOCORE_CASES = [
    pytest.param(
        req,
        id=f"botocore/{req.parent.name}",
        marks=[pytest.mark.skip(reason=NOT_APPLICABLE[req.parent.name])]
        if req.parent.name in NOT_APPLICABLE
        else [],
    )
    for req in sorted((SUITE / "botocore").rglob("*.req"))
]


def _sign(case: Case, *, sigv4a: bool) -> tuple[dict[str, str], str, str]:
    request = case.request
    signed = sign_request(
        request.method,
        request.host,
        request.path,
        request.query,
        request.headers,
        credentials=case.credentials,
        region=case.region,
        service=case.service,
        now=case.now,
        sigv4a=sigv4a,
        region_set=case.region,
        payload_hash=case.payload_hash,
        content_sha256_header=case.content_sha256_header,
    )
    return signed.headers, signed.canonical_request, signed.string_to_sign


def test_the_suite_holds_every_case_the_readme_promises() -> None:
    """The vectors are all found: 30 SigV4 + 1 unsigned-payload, 30 + 1 SigV4A, 34 botocore."""
    runnable = [p for p in V4_CASES if not p.marks]
    assert len(runnable) == 31
    assert len([p for p in V4A_CASES if not p.marks]) == 31
    assert len(BOTOCORE_CASES) == 34


@pytest.mark.parametrize("folder", V4_CASES)
def test_sigv4_aws_c_auth_vector(folder: Path) -> None:
    """SigV4: canonical request, string to sign, signature and headers sent equal aws-c-auth's."""
    case = _aws_c_auth_case(folder, folder.name)
    headers, canonical_request, string_to_sign = _sign(case, sigv4a=False)
    assert canonical_request == case.canonical_request
    assert string_to_sign == case.string_to_sign
    assert headers["authorization"].rpartition("Signature=")[2] == case.signature
    # The request as sent: the original headers plus ours, as an unordered set.
    expected = parse_request((folder / "header-signed-request.txt").read_bytes())
    sent = [*case.request.headers, *headers.items()]
    assert _header_set(sent) == _header_set(expected.headers)


def _header_set(headers: list[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(name.lower(), value) for name, value in headers}


@pytest.mark.parametrize("req", BOTOCORE_CASES)
def test_sigv4_botocore_vector(req: Path) -> None:
    """SigV4: the 2015 suite (as botocore ships it) agrees at every step, Authorization included."""
    case = _botocore_case(req)
    headers, canonical_request, string_to_sign = _sign(case, sigv4a=False)
    assert canonical_request == case.canonical_request
    assert string_to_sign == case.string_to_sign
    expected = req.with_suffix(".authz").read_text().strip()
    assert headers["authorization"] == expected


@pytest.mark.parametrize("folder", V4A_CASES)
def test_sigv4a_aws_c_auth_vector(folder: Path) -> None:
    """SigV4A: same canonical request and string to sign, the vector's public key, a valid ECDSA."""
    case = _aws_c_auth_case(folder, folder.name)
    assert case.public_key is not None
    headers, canonical_request, string_to_sign = _sign(case, sigv4a=True)
    assert canonical_request == case.canonical_request
    assert string_to_sign == case.string_to_sign

    derived = public_key(
        derive_private_key(case.credentials.access_key_id, case.credentials.secret_access_key)
    )
    assert (f"{derived.x:064x}", f"{derived.y:064x}") == case.public_key

    # Verify with awscrt and the vector's own key, not with anything derived by us.
    x, y = (bytes.fromhex(coordinate) for coordinate in case.public_key)
    verifier = EC.new_key_from_der_data(P256_SPKI_PREFIX + x + y)
    signature = bytes.fromhex(headers["authorization"].rpartition("Signature=")[2])
    digest = hashlib.sha256(string_to_sign.encode()).digest()
    assert verifier.verify(digest, signature)
    # ... and the vector's published signature verifies against the same key and digest.
    published = bytes.fromhex((folder / "header-signature.txt").read_text().strip())
    assert verifier.verify(digest, published)
