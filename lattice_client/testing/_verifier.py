"""Check a SigV4 / SigV4A signature the way Lattice would, independently of our own signer.

SigV4 is recomputed by awscrt (AWS's C signer, the closest reference to what
Lattice runs) over exactly the method, target and signed headers received.
SigV4A signatures are randomised, so awscrt cannot recompute one: the canonical
request and string to sign are rebuilt here with code that shares nothing with
``lattice_client._signing``, and the ECDSA signature is checked with
``awscrt.crypto.EC.verify``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

from lattice_client._credentials import Credentials
from lattice_client._exceptions import MissingDependencyError
from lattice_client._lattice import SIGNING_NAME, UNSIGNED_PAYLOAD

from . import _messages as msg

__all__ = ["SignatureCheck", "verify_signature"]

SIGV4 = "AWS4-HMAC-SHA256"
SIGV4A = "AWS4-ECDSA-P256-SHA256"
# Headers awscrt adds itself while signing; a request handed to it must not carry them.
_SIGNER_ADDED = frozenset(
    {"authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}
)
_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class SignatureCheck:
    """The verdict on one request's signature, with what was learnt from it.

    ``error`` is Lattice's exception name (``IncompleteSignatureException``,
    ``InvalidSignatureException``...) or None when ``ok``; ``message`` is the
    text Lattice puts after it, never containing a secret.
    """

    ok: bool
    error: str | None
    message: str
    access_key_id: str | None = None
    algorithm: str | None = None
    signed_headers: tuple[str, ...] = ()
    region: str | None = None


@dataclass
class _Parsed:
    """What has been read from the Authorization header so far, for the verdict."""

    access_key_id: str | None = None
    algorithm: str | None = None
    signed_headers: tuple[str, ...] = ()
    region: str | None = None

    def verdict(self, error: str | None = None, message: str = "") -> SignatureCheck:
        return SignatureCheck(
            error is None,
            error,
            message,
            self.access_key_id,
            self.algorithm,
            self.signed_headers,
            self.region,
        )


class _Rejected(Exception):
    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def verify_signature(
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    *,
    credentials: Mapping[str, Credentials],
    now: datetime | None = None,
    service: str = SIGNING_NAME,
    max_skew: timedelta = timedelta(minutes=5),
    region: str | None = None,
) -> SignatureCheck:
    """Verify the signature of a request exactly as received.

    ``target`` is the request target as received (raw path plus ``?query``);
    ``headers`` the header fields as received, with HTTP/2's ``:authority``
    passed as ``host``. ``credentials`` maps access key ids to the credentials
    whose secret verifies them; when one carries a session token, the request
    must carry exactly that ``x-amz-security-token``. ``region``, when given, is
    the service's region: a SigV4 scope or SigV4A region set must include it.
    """
    if now is None:
        now = datetime.now(timezone.utc)
    fields: dict[str, list[str]] = {}
    for name, value in headers:
        if name[:1] != ":":
            fields.setdefault(name.lower(), []).append(value)
    parsed = _Parsed()
    try:
        _verify(method, target, fields, credentials, now, service, max_skew, region, parsed)
    except _Rejected as rejected:
        return parsed.verdict(rejected.error, rejected.message)
    return parsed.verdict()


def _verify(
    method: str,
    target: str,
    fields: dict[str, list[str]],
    credentials: Mapping[str, Credentials],
    now: datetime,
    service: str,
    max_skew: timedelta,
    region: str | None,
    parsed: _Parsed,
) -> None:
    authorization = fields.get("authorization")
    if not authorization:
        raise _Rejected(msg.MISSING_AUTHENTICATION_TOKEN, msg.MISSING_TOKEN)
    for name in _ONCE_ONLY:
        if len(fields.get(name, ())) > 1:
            # One signature per request: a second copy after a valid one must not ride along.
            raise _Rejected(msg.INCOMPLETE_SIGNATURE, msg.repeated_header(name))
    algorithm, _, rest = authorization[0].strip().partition(" ")
    parts: dict[str, str] = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        parts[key] = value
    missing = [key for key in ("Credential", "SignedHeaders", "Signature") if not parts.get(key)]
    if missing:
        raise _Rejected(msg.INCOMPLETE_SIGNATURE, msg.malformed_authorization(missing))
    if algorithm not in (SIGV4, SIGV4A):
        raise _Rejected(msg.INCOMPLETE_SIGNATURE, msg.unsupported_algorithm(algorithm[:40]))
    parsed.algorithm = algorithm

    scope = parts["Credential"].split("/")
    if len(scope) != (5 if algorithm == SIGV4 else 4) or scope[-1] != "aws4_request":
        # The scope after the key id is public information; the key id too.
        raise _Rejected(msg.INCOMPLETE_SIGNATURE, msg.malformed_credential(parts["Credential"]))
    access_key_id, scope_date, scope_service = scope[0], scope[1], scope[-2]
    parsed.access_key_id = access_key_id
    signed_headers = tuple(parts["SignedHeaders"].split(";"))
    parsed.signed_headers = signed_headers
    if algorithm == SIGV4:
        parsed.region = scope_region = scope[2]
    else:
        scope_region = ""
        if "x-amz-region-set" not in signed_headers:
            raise _Rejected(msg.INCOMPLETE_SIGNATURE, msg.REGION_SET_NOT_SIGNED)
    if scope_service != service:
        raise _Rejected(msg.INVALID_SIGNATURE, msg.wrong_service(service))

    for name in signed_headers:
        if name not in fields:
            raise _Rejected(msg.INCOMPLETE_SIGNATURE, msg.signed_header_missing(name))
    if "host" not in signed_headers:
        raise _Rejected(msg.INCOMPLETE_SIGNATURE, msg.HOST_NOT_SIGNED)
    if algorithm == SIGV4A:
        parsed.region = region_set = ",".join(fields["x-amz-region-set"])
        if region is not None and not any(
            fnmatchcase(region, pattern.strip()) for pattern in region_set.split(",")
        ):
            raise _Rejected(msg.INVALID_SIGNATURE, msg.wrong_region(region_set))
    elif region is not None and scope_region != region:
        raise _Rejected(msg.INVALID_SIGNATURE, msg.wrong_region(scope_region))

    amz_date = fields.get("x-amz-date", [""])[0]
    if not amz_date:
        raise _Rejected(msg.INCOMPLETE_SIGNATURE, msg.MISSING_DATE)
    signed_at = _parse_amz_date(amz_date)
    if scope_date != amz_date[:8]:
        raise _Rejected(msg.INVALID_SIGNATURE, msg.scope_date_mismatch(scope_date, amz_date))
    skew_minutes = int(max_skew.total_seconds() // 60)
    if signed_at < now - max_skew:
        raise _Rejected(msg.INVALID_SIGNATURE, msg.signature_expired(signed_at, now, skew_minutes))
    if signed_at > now + max_skew:
        raise _Rejected(
            msg.INVALID_SIGNATURE, msg.signature_not_yet_current(signed_at, now, skew_minutes)
        )

    if fields.get("x-amz-content-sha256") != [UNSIGNED_PAYLOAD]:
        raise _Rejected(msg.INVALID_SIGNATURE, msg.SIGNED_PAYLOADS_NOT_SUPPORTED)

    known = credentials.get(access_key_id)
    if known is None:
        raise _Rejected(msg.UNRECOGNIZED_CLIENT, msg.INVALID_TOKEN)
    sent_token = fields.get("x-amz-security-token")
    if known.session_token is None:
        if sent_token is not None:
            raise _Rejected(msg.UNRECOGNIZED_CLIENT, msg.INVALID_TOKEN)
    elif sent_token is None or not hmac.compare_digest(
        sent_token[0].encode(), known.session_token.encode()
    ):
        raise _Rejected(msg.UNRECOGNIZED_CLIENT, msg.INVALID_TOKEN)
    if known.expired(now):
        raise _Rejected(msg.EXPIRED_TOKEN, msg.TOKEN_EXPIRED)

    signature = parts["Signature"]
    if algorithm == SIGV4 and ":/" in target.partition("?")[0]:
        # awscrt's URI parser misreads a raw ":/" in the path (it takes the text
        # before it for a scheme), so it cannot be the reference for such a target.
        good = _sigv4_matches_here(
            method,
            target,
            fields,
            signed_headers,
            known,
            amz_date,
            scope_region,
            service,
            signature,
        )
    elif algorithm == SIGV4:
        good = _sigv4_matches(
            method,
            target,
            fields,
            signed_headers,
            known,
            signed_at,
            scope_region,
            service,
            signature,
        )
    else:
        good = _sigv4a_matches(
            method, target, fields, signed_headers, known, amz_date, service, signature
        )
    if not good:
        raise _Rejected(msg.INVALID_SIGNATURE, msg.SIGNATURE_MISMATCH)


def _parse_amz_date(value: str) -> datetime:
    match = _AMZ_DATE.fullmatch(value)
    if match is None:
        raise _Rejected(msg.INCOMPLETE_SIGNATURE, msg.malformed_date(value[:40]))
    try:
        year, month, day, hour, minute, second = (int(group) for group in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        raise _Rejected(msg.INCOMPLETE_SIGNATURE, msg.malformed_date(value)) from None


def _sigv4_matches(
    method: str,
    target: str,
    fields: dict[str, list[str]],
    signed_headers: tuple[str, ...],
    known: Credentials,
    signed_at: datetime,
    region: str,
    service: str,
    signature: str,
) -> bool:
    """Let awscrt sign the received request again, limited to its SignedHeaders, and compare."""
    try:
        from awscrt import auth, http
    except ImportError:
        raise MissingDependencyError(
            "verifying signatures", extra="testing", module="awscrt"
        ) from None
    signed = frozenset(signed_headers)
    token_signed = "x-amz-security-token" in signed
    provider = auth.AwsCredentialsProvider.new_static(
        known.access_key_id,
        known.secret_access_key,
        known.session_token if token_signed else None,
    )
    path, question_mark, query = target.partition("?")
    request = http.HttpRequest(
        method,
        # awscrt's URI parser misreads a raw ":/" in the query (it signs "a=x:/y"
        # differently from "a=x%3A/y"); it decodes and re-encodes every query
        # component anyway, so handing it ":" as "%3A" changes nothing else.
        path + question_mark + query.replace(":", "%3A"),
        http.HttpHeaders(
            [
                (name, value)
                for name, values in fields.items()
                if name in signed and name not in _SIGNER_ADDED
                for value in values
            ]
        ),
    )
    config = auth.AwsSigningConfig(
        algorithm=auth.AwsSigningAlgorithm.V4,
        signature_type=auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=provider,
        region=region,
        service=service,
        date=signed_at,
        should_sign_header=lambda name: name.lower() in signed,
        use_double_uri_encode=True,
        should_normalize_uri_path=True,
        signed_body_value=UNSIGNED_PAYLOAD,
        signed_body_header_type=(
            auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256
            if "x-amz-content-sha256" in signed
            else auth.AwsSignedBodyHeaderType.NONE
        ),
    )
    try:
        resigned = auth.aws_sign_request(request, config).result()
    except Exception:  # awscrt refuses requests it cannot canonicalise: not a valid signature
        return False
    expected = resigned.headers.get("authorization") or ""
    expected_parts = dict(
        part.strip().partition("=")[::2] for part in expected.partition(" ")[2].split(",")
    )
    # awscrt always signs x-amz-date and skips a few headers (user-agent...) whatever
    # it is told: a request whose SignedHeaders differ from awscrt's cannot match.
    return expected_parts.get("SignedHeaders") == ";".join(signed_headers) and hmac.compare_digest(
        expected_parts.get("Signature", "").encode(), signature.encode()
    )


def _sigv4a_matches(
    method: str,
    target: str,
    fields: dict[str, list[str]],
    signed_headers: tuple[str, ...],
    known: Credentials,
    amz_date: str,
    service: str,
    signature: str,
) -> bool:
    """Rebuild the SigV4A string to sign here and check the ECDSA signature with awscrt."""
    string_to_sign = "\n".join(
        [
            SIGV4A,
            amz_date,
            f"{amz_date[:8]}/{service}/aws4_request",
            _canonical_request_hash(method, target, fields, signed_headers),
        ]
    )
    try:
        der_signature = bytes.fromhex(signature)
    except ValueError:
        return False
    # The public key comes from lattice_client._sigv4a's key derivation, which the
    # conformance tests check against the public keys AWS publishes in its SigV4A
    # test vectors; everything else in this check is independent of our signer.
    from lattice_client._sigv4a import derived_key

    try:
        key = derived_key(known)
    except MissingDependencyError:
        raise MissingDependencyError(
            "verifying SigV4A signatures", extra="testing", module="awscrt"
        ) from None
    digest = hashlib.sha256(string_to_sign.encode()).digest()
    try:
        return bool(key.ec.verify(digest, der_signature))
    except Exception:  # a signature that is not valid DER is simply not a valid signature
        return False


def _canonical_request_hash(
    method: str, target: str, fields: dict[str, list[str]], signed_headers: tuple[str, ...]
) -> str:
    """SHA-256 of the canonical request, built from the request as received."""
    path, _, query = target.partition("?")
    canonical_headers = "".join(
        f"{name}:{','.join(_trim(value) for value in fields[name])}\n" for name in signed_headers
    )
    canonical_request = "\n".join(
        [
            method,
            _canonical_uri(path),
            _canonical_query(query),
            canonical_headers,
            ";".join(signed_headers),
            UNSIGNED_PAYLOAD,
        ]
    )
    return hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape")).hexdigest()


def _sigv4_matches_here(
    method: str,
    target: str,
    fields: dict[str, list[str]],
    signed_headers: tuple[str, ...],
    known: Credentials,
    amz_date: str,
    region: str,
    service: str,
    signature: str,
) -> bool:
    """SigV4 recomputed with this module's canonical request, for targets awscrt misparses."""
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [SIGV4, amz_date, scope, _canonical_request_hash(method, target, fields, signed_headers)]
    )
    key = ("AWS4" + known.secret_access_key).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    expected = hmac.digest(key, string_to_sign.encode(), "sha256").hex()
    return hmac.compare_digest(expected.encode(), signature.encode())


# Headers that make up one signature: each may be sent once.
_ONCE_ONLY = ("authorization", "x-amz-security-token", "x-amz-date", "x-amz-content-sha256")


def _trim(value: str) -> str:
    return _SPACES.sub(" ", value.strip(" \t"))


def _canonical_uri(path: str) -> str:
    """Dot segments and empty segments removed, then every byte but unreserved and ``/``
    encoded: the path as received is already encoded once, so this is the generic
    double encoding."""
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    normalized = "/" + "/".join(segments)
    if segments and (path.endswith("/") or path.rsplit("/", 1)[-1] in (".", "..")):
        normalized += "/"
    return quote(normalized, safe="/~", encoding="utf-8", errors="surrogateescape")


def _canonical_query(query: str) -> str:
    """Each name and value decoded and re-encoded (``+`` stays a plus), then sorted."""
    pairs = []
    for parameter in query.split("&"):
        if parameter:
            name, _, value = parameter.partition("=")
            pairs.append(
                (
                    quote_from_bytes(unquote_to_bytes(name), safe="~"),
                    quote_from_bytes(unquote_to_bytes(value), safe="~"),
                )
            )
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))
