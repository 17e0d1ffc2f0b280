"""What the local Lattice answers with, in one place: error names, messages and 403 bodies.

Lattice's auth-denial body is the one AWS documents and shows in its samples (VPC
Lattice User Guide, "Control access to VPC Lattice services using auth policies",
https://docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html, and
"SIGv4 authenticated requests for Amazon VPC Lattice",
https://docs.aws.amazon.com/vpc-lattice/latest/ug/sigv4-authenticated-requests.html);
users have reported some signature errors. Everything else below follows the
AWS-wide convention for SigV4 errors and is marked NOT DOCUMENTED (docs/assumptions.md
lists it): change it here and nowhere else. No message carries a secret key, a
session token or an ``Authorization`` value.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# Exception names, as Lattice prefixes them to a response body.
ACCESS_DENIED = "AccessDeniedException"
INCOMPLETE_SIGNATURE = "IncompleteSignatureException"
INVALID_SIGNATURE = "InvalidSignatureException"
# NOT DOCUMENTED for Lattice: the AWS-wide names for an unknown key id, a wrong
# or expired session token, and a request without any signature.
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"
EXPIRED_TOKEN = "ExpiredTokenException"  # noqa: S105 (a message, not a secret)
MISSING_AUTHENTICATION_TOKEN = "MissingAuthenticationTokenException"  # noqa: S105 (a message, not a secret)

# Reported by Lattice users (docs/assumptions.md).
SIGNED_PAYLOADS_NOT_SUPPORTED = "Signed payloads are not supported"


def signed_header_missing(name: str) -> str:
    """Lattice's message for a header listed in SignedHeaders that the request lacks."""
    return f"'{name}' is named as a SignedHeader, but it does not exist in the HTTP request"


# NOT DOCUMENTED for Lattice: AWS-wide SigV4 messages.
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105 (a message, not a secret)
TOKEN_EXPIRED = "The security token included in the request is expired"  # noqa: S105 (a message, not a secret)
MISSING_TOKEN = "Missing Authentication Token"  # noqa: S105 (a message, not a secret)
MISSING_DATE = (
    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
)
HOST_NOT_SIGNED = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
REGION_SET_NOT_SIGNED = "'X-Amz-Region-Set' must be a 'SignedHeader' for AWS4-ECDSA-P256-SHA256."


def repeated_header(name: str) -> str:
    """NOT DOCUMENTED for Lattice: the local Lattice's message for a signature header sent twice."""
    return f"The request carries more than one '{name}' header; send exactly one."


def malformed_authorization(missing: list[str]) -> str:
    """AWS's message for an Authorization header that lacks some of its parts."""
    return " ".join(f"Authorization header requires '{part}' parameter." for part in missing)


def unsupported_algorithm(algorithm: str) -> str:
    """AWS's message for an Authorization header with an unknown algorithm."""
    return f"Unsupported AWS 'algorithm': '{algorithm}'"


def malformed_credential(credential: str) -> str:
    """AWS's message for a Credential= that is not ``key/date/[region/]service/aws4_request``."""
    return (
        f"Credential should be scoped to a valid region, service and terminal: '{credential}'."
        if credential
        else "Credential is empty."
    )


def wrong_service(service: str) -> str:
    """AWS's message for a credential scope naming another signing name."""
    return f"Credential should be scoped to correct service: '{service}'."


def wrong_region(region: str) -> str:
    """AWS's message for a SigV4 scope (or SigV4A region set) that excludes this region."""
    return f"Credential should be scoped to a valid region, not '{region}'."


def scope_date_mismatch(scope_date: str, amz_date: str) -> str:
    """AWS's message when the credential scope's date is not the day of x-amz-date."""
    return (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
        f"from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'."
    )


def malformed_date(value: str) -> str:
    """AWS's message for an x-amz-date that is not ``YYYYMMDD'T'HHMMSS'Z'``."""
    return f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"


def signature_expired(signed: datetime, now: datetime, skew_minutes: int) -> str:
    """AWS's message for a signature older than the allowed clock skew."""
    return (
        f"Signature expired: {_basic(signed)} is now earlier than "
        f"{_basic(now.replace(microsecond=0) - _minutes(skew_minutes))} "
        f"({_basic(now)} - {skew_minutes} min.)"
    )


def signature_not_yet_current(signed: datetime, now: datetime, skew_minutes: int) -> str:
    """AWS's message for a signature dated further in the future than the allowed skew."""
    return (
        f"Signature not yet current: {_basic(signed)} is still later than "
        f"{_basic(now.replace(microsecond=0) + _minutes(skew_minutes))} "
        f"({_basic(now)} + {skew_minutes} min.)"
    )


def access_denied(
    principal: str,
    resource: str,
    *,
    policy_kind: str = "service-based",
    explicit_deny: bool = False,
) -> str:
    """Lattice's documented 403 body (no trailing newline) for a request the auth policy refuses.

    ``policy_kind`` is ``identity-based``, ``service-based`` or ``network-based``;
    the local Lattice evaluates only the service's auth policy.
    """
    head = (
        f"{ACCESS_DENIED}: User: {principal} is not authorized to perform: "
        f"vpc-lattice-svcs:Invoke on resource: {resource} "
    )
    if explicit_deny:
        return head + f"with an explicit deny in a {policy_kind} policy"
    return head + f"because no {policy_kind} policy allows the vpc-lattice-svcs:Invoke action"


def _basic(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


# Presigned (query-string) requests: aws-c-auth suggests Lattice accepts them,
# the local Lattice does not verify them and says so rather than treating them as anonymous.
PRESIGNED_NOT_SUPPORTED = (
    "The local Lattice does not verify query-string (presigned) signatures; "
    "sign the request headers instead"
)

# NOT DOCUMENTED: the status of signature errors (users' reports show no status), the
# body and headers of fixed responses, and what Lattice answers when its target
# cannot be reached (expect 5xx) or is too slow. The local Lattice answers:
SIGNATURE_ERROR_STATUS = 403
FIXED_RESPONSE_BODY = b""
NO_HEALTHY_TARGET_STATUS = 503
# A name no service of the network answers to (or a caller in a VPC not associated
# with the network, from which no name resolves): Lattice's answer is not documented.
UNKNOWN_SERVICE_STATUS = 404
UNKNOWN_SERVICE_BODY = b""
TARGET_TIMEOUT_STATUS = 504
# Lattice's own bodies are plain text (AWS's samples); the exact content-type is not documented.
CONTENT_TYPE = b"text/plain"


def error_body(error: str, message: str) -> bytes:
    """A signature error as Lattice words it: ``<ExceptionName>: <message>``, no newline."""
    return f"{error}: {message}".encode()
