"""Lattice's error answers, parsed into the typed exceptions. Pure: no httpx, no I/O.

``classify(status_code, headers, body)`` is the one parser; the httpx flavour
(``_responses.py``), gRPC and ``error_from_response`` (any other HTTP stack) all
go through it. It never raises: a body it cannot read gives the generic error
for the status, because a parser crash must never hide the HTTP error itself.

The first section lists the formats: the documented ones, and the ones we
assume (NOT DOCUMENTED), so that they change in one place when AWS says more.
docs/assumptions.md lists the assumptions for users.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any

from ._exceptions import (
    AccessDeniedError,
    IncompleteSignatureError,
    InternalServerError,
    InvalidSignatureError,
    LatticeResponseError,
    NotFoundError,
    ServiceUnavailableError,
    SignatureError,
    SignatureExpiredError,
)
from ._validate import check_body, check_status

__all__ = ["BODY_LIMIT", "Classification", "classify", "error_from_response"]

# ---------------------------------------------------------------------------
# Lattice's answer formats (the VPC Lattice User Guide and AWS's samples; docs/assumptions.md)
# ---------------------------------------------------------------------------

# How much of an error body is read to classify it. Lattice's own answers are a
# few hundred bytes; the bound keeps a huge or endless error body from being
# read whole.
BODY_LIMIT = 64 * 1024

# Documented: a plain-text body "<Code>: <message>", no trailing newline.
ACCESS_DENIED = "AccessDeniedException"
INVALID_SIGNATURE = "InvalidSignatureException"
INCOMPLETE_SIGNATURE = "IncompleteSignatureException"

# Documented (aws-samples): the denial message, with "because no <kind> policy
# allows the <action> action", or "with an explicit deny in a <kind> policy".
# Every field is a single token (ARNs and URL paths on the wire carry no
# spaces), which also keeps the match linear on hostile input.
_DENIAL = re.compile(
    r"User: (?P<principal>\S+) is not authorized to perform: (?P<action>\S+)"
    r" on resource: (?P<resource>\S+) "
    r"(?:because no (?P<kind>[\w-]+(?: [\w-]+){0,3}?) policy allows the (?P<allowed>\S+) action"
    r"|with an explicit deny in an? (?P<deny_kind>[\w-]+(?: [\w-]+){0,3}?) policy)\.?"
)
_ANONYMOUS = "anonymous"
_LATTICE_ACTION_PREFIX = "vpc-lattice-svcs:"
_SERVICE_ARN = re.compile(r"(arn:[\w-]+:vpc-lattice:[\w-]*:\d*:service/[\w-]+)(/\S*)?")
IDENTITY_BASED, SERVICE_BASED, NETWORK_BASED = "identity-based", "service-based", "network-based"

# NOT DOCUMENTED for Lattice: the AWS-wide SigV4 refusals of the credentials
# rather than the signature; raised as the SignatureError base class.
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"
EXPIRED_TOKEN = "ExpiredTokenException"  # noqa: S105 -- an exception name, not a secret
MISSING_AUTHENTICATION_TOKEN = "MissingAuthenticationTokenException"  # noqa: S105 -- ditto

# NOT DOCUMENTED: the status of signature errors ("probably 403"). Any 4xx.
SIGNATURE_ERROR_STATUSES = range(400, 500)

# NOT DOCUMENTED: how Lattice words an expired or not-yet-valid signature. The
# AWS-wide convention is InvalidSignatureException with "Signature expired: <t>
# is now earlier than <t> (<now> - 5 min.)" or "Signature not yet current: <t> is
# still later than <t> (<now> + 5 min.)"; other AWS services use the codes
# below. Any of these phrases (case-insensitive) or codes means "expired".
EXPIRY_PHRASES = (
    "signature expired",
    "signature not yet current",
    "signature has expired",
    "request has expired",
    "too skewed",
    "difference between the request time and the current time is too large",
)
EXPIRY_CODES = frozenset(
    {"RequestExpired", "RequestTimeTooSkewed", "RequestInTheFuture", "SignatureExpired"}
)
# The server's own time in the AWS-wide expiry message: "(<now> - 5 min.)".
_MESSAGE_SERVER_TIME = re.compile(r"\((\d{8}T\d{6}Z) ?[-+] ?\d{1,3} ?min")

# NOT DOCUMENTED: how long a signature stays valid. AWS-wide it is 5 minutes
# either way; an InvalidSignatureException whose x-amz-date is further than this
# from Lattice's Date header is taken for an expiry, whatever its wording.
SIGNATURE_WINDOW = timedelta(minutes=5)

# NOT DOCUMENTED: envelopes other than plain text. AWS's JSON protocols answer
# {"__type" or "code": "<Code>", "message" or "Message": "..."} and/or an
# x-amzn-ErrorType header ("<Code>:<url>"); accepted in case Lattice ever does.
_JSON_CODE_KEYS = ("__type", "code", "Code")
_JSON_MESSAGE_KEYS = ("message", "Message")
_ERROR_TYPE_HEADER = "x-amzn-errortype"

# Documented: a fixed-response action returns only 404 or 500. NOT DOCUMENTED:
# its body and headers, so a fixed response cannot be told from the target's
# own 404/500, and NotFoundError / InternalServerError leave
# evidently_from_lattice False.
FIXED_RESPONSE_STATUSES = (404, 500)

# ---------------------------------------------------------------------------

_CODE = re.compile(r"([A-Za-z][A-Za-z0-9]{0,99}): ?(.*)", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")
# Controls, line separators, bidi overrides and BOMs: they could forge lines or
# reorder text in a terminal or a log.
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
_MESSAGE_LIMIT = 1000  # characters of the body quoted in an exception message
_REDACTED = "[redacted]"
# A text ending with this many characters of a secret, or more, is taken for a cut echo.
_SECRET_PREFIX = 8
_UTC = timezone.utc

_SIGNATURE_CLASSES: dict[str, type[SignatureError]] = {
    INVALID_SIGNATURE: InvalidSignatureError,
    INCOMPLETE_SIGNATURE: IncompleteSignatureError,
    UNRECOGNIZED_CLIENT: SignatureError,
    EXPIRED_TOKEN: SignatureError,
    MISSING_AUTHENTICATION_TOKEN: SignatureError,
}
_BY_STATUS: dict[int, type[LatticeResponseError]] = {
    404: NotFoundError,
    500: InternalServerError,
    502: ServiceUnavailableError,
    503: ServiceUnavailableError,
    504: ServiceUnavailableError,
}
_HINT_BY_STATUS = {
    NotFoundError: "Fix: check the URL path, and the service's listener rules "
    "(a fixed-response rule answers 404 without reaching a target).",
    InternalServerError: "Fix: check the target's logs, and the service's listener rules "
    "(a fixed-response rule can answer 500).",
    ServiceUnavailableError: "Fix: check that the target group has healthy targets and that "
    "targets answer in time; retrying later may succeed.",
}


@dataclass(frozen=True)
class Classification:
    """What an error answer is: the exception class and the keyword arguments to build it."""

    error_class: type[LatticeResponseError]
    message: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    # For the clock-skew tracker: Lattice's time, when the answer is an expiry.
    server_time: datetime | None = None

    def error(self) -> LatticeResponseError:
        """The exception, without any transport's context (no request, no response)."""
        return self.error_class(self.message, **self.fields)


def error_from_response(
    status_code: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    signed_at: datetime | None = None,
    signed: bool | None = None,
    unsigned_reason: str | None = None,
    redact: Iterable[str] = (),
) -> LatticeResponseError | None:
    """The typed exception for an answer from any HTTP stack, or None when it is no error.

    Pass the status, the headers and (the start of) the body, decoded from any
    ``Content-Encoding``; only the first 64 KiB are looked at. ``signed_at``,
    the request's ``x-amz-date``, lets an expiry report its skew. An adapter
    that knows whether it signed the request passes ``signed`` (and, when it did
    not, the policy's ``unsigned_reason``): a 403 ``User: anonymous`` then says
    why. ``redact`` lists values the message must not quote should the body
    echo them (the request's session token and signature), matched
    case-insensitively. For httpx use ``raise_for_status``, which also keeps
    the response on the exception and redacts the request's own token and
    signature.
    """
    status_code = check_status(status_code)
    body = check_body(body)
    if not 400 <= status_code <= 599:
        return None
    secrets = [redact] if isinstance(redact, str) else redact  # one value, not its characters
    return classify(
        status_code,
        headers,
        body,
        signed_at=signed_at,
        signed=signed,
        unsigned_reason=unsigned_reason,
        redact=redactor(secrets),
    ).error()


def classify(
    status_code: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    *,
    signed_at: datetime | None = None,
    signed: bool | None = None,
    unsigned_reason: str | None = None,
    redact: Callable[[str], str] | None = None,
) -> Classification:
    """Classify a 4xx/5xx answer; never raises (an unreadable body gives the generic class).

    ``signed`` is what the adapter that sent the request knows: True when it
    signed it, False when it did not (``unsigned_reason`` says why, in the words
    of `lattice_client._policy`), None when unknown. An answer saying the
    request arrived unsigned then names the cause. ``redact`` is applied to
    every text taken from the answer before any of it is cut to fit a message:
    cut first, a long echoed secret would leave a piece that no longer matches.
    """
    body = bytes(body[:BODY_LIMIT])
    whole = _text(body)
    if redact is not None:
        whole = redact(whole)
    try:
        return _classify(
            status_code, headers, body, signed_at, (signed, unsigned_reason), redact, whole
        )
    except Exception:  # a parser bug must not hide the HTTP error itself
        return _by_status(status_code, None, None, body, whole)


def request_secrets(authorization: object, session_token: object) -> list[str]:
    """What an error message must never quote, should the target echo it: the request's
    ``Authorization`` value, its signature and its session token (header values as str)."""
    secrets = [
        value for value in (authorization, session_token) if isinstance(value, str) and value
    ]
    if isinstance(authorization, str):
        signature = authorization.rpartition("Signature=")[2].strip()
        if len(signature) >= 16:
            secrets.append(signature)
    return secrets


def redactor(secrets: Iterable[str]) -> Callable[[str], str] | None:
    """A function replacing each of ``secrets`` (any case) by ``[redacted]``; None for none.

    A text that ends with the start of a secret (a body cut at ``BODY_LIMIT``
    in the middle of an echo) loses that start too.
    """
    wanted = sorted(
        {secret.lower() for secret in secrets if isinstance(secret, str) and secret},
        key=len,
        reverse=True,
    )
    if not wanted:
        return None
    pattern = re.compile("|".join(re.escape(secret) for secret in wanted), re.IGNORECASE)

    def redact(text: str) -> str:
        text = pattern.sub(_REDACTED, text)
        lowered = text.lower()
        for secret in wanted:
            # Whole echoes are gone: look for a start of one in the last len(secret) - 1.
            start = lowered.find(secret[:_SECRET_PREFIX], max(0, len(lowered) - len(secret) + 1))
            while start >= 0:
                if secret.startswith(lowered[start:]):
                    return text[:start] + _REDACTED
                start = lowered.find(secret[:_SECRET_PREFIX], start + 1)
        return text

    return redact


# What the sender knows: (signed or not or None, why not).
_Sent = tuple[bool | None, str | None]


def _classify(
    status_code: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    signed_at: datetime | None,
    sent: _Sent = (None, None),
    redact: Callable[[str], str] | None = None,
    whole: str | None = None,
) -> Classification:
    if whole is None:  # the body's text, redacted: what every message quotes from
        whole = _text(body) if redact is None else redact(_text(body))
    wanted = _headers(headers)
    code, text = _code_and_message(whole, wanted.get(_ERROR_TYPE_HEADER), redact)
    if code == ACCESS_DENIED and status_code == 403:
        return _access_denied(code, text or "", body, sent)
    if status_code in SIGNATURE_ERROR_STATUSES:
        # A bare "Signature expired: ..." without an exception name is accepted too.
        said = text if code is not None else _WHITESPACE.sub(" ", whole)[:_MESSAGE_LIMIT]
        server_time = _http_date(wanted.get("date")) or _message_time(said or "")
        if _is_expiry(code, said or "", server_time, signed_at):
            return _expired(status_code, code, said or "", body, server_time, signed_at)
        signature_class = _SIGNATURE_CLASSES.get(code or "")
        if code is not None and signature_class is not None:
            return _signature(signature_class, status_code, code, text or "", body, sent)
    return _by_status(status_code, code, text, body, whole)


def _headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    wanted = {}
    for name, value in items:
        lower = name.lower()
        if lower in ("date", _ERROR_TYPE_HEADER):
            wanted[lower] = value
    return wanted


def _code_and_message(
    text: str, error_type: str | None, redact: Callable[[str], str] | None
) -> tuple[str | None, str | None]:
    """The exception name and message of a body's text, or (None, None) when it has neither."""
    # x-amzn-ErrorType is "<Code>" or "<Code>:<documentation url>".
    code = (error_type.partition(":")[0].strip() or None) if error_type else None
    if code is not None and redact is not None:
        code = redact(code)
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            document = None
        if isinstance(document, dict):
            json_code = _first_string(document, _JSON_CODE_KEYS)
            if json_code:
                # "com.amazon.coral.service#AccessDeniedException" -> the name.
                code = json_code.rpartition("#")[2].partition(":")[0] or code
            message = _first_string(document, _JSON_MESSAGE_KEYS)
            if message and redact is not None:  # JSON may escape what the raw text showed
                message = redact(message)
            if code and redact is not None:
                code = redact(code)
            return code, _WHITESPACE.sub(" ", message).strip() if message else None
    match = _CODE.fullmatch(text)
    if match and (match.group(1).endswith("Exception") or match.group(1) in EXPIRY_CODES):
        return match.group(1), _WHITESPACE.sub(" ", match.group(2)).strip()
    return code, (_WHITESPACE.sub(" ", text) if code else None)


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace").lstrip("\ufeff").strip()


def _first_string(document: dict[Any, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = document.get(key)
        if isinstance(value, str):
            return value
    return None


def _access_denied(code: str, text: str, body: bytes, sent: _Sent = (None, None)) -> Classification:
    match = _DENIAL.fullmatch(text)
    if match is None:
        fields: dict[str, Any] = {"error_code": code, "body": body}
        hint = "Fix: check the auth policies that apply to this caller and service."
        return Classification(AccessDeniedError, _message(code, text, hint), fields)
    principal = match.group("principal")
    anonymous = principal == _ANONYMOUS
    action = match.group("action")
    resource = match.group("resource")
    explicit_deny = match.group("deny_kind") is not None
    kind = (match.group("deny_kind") or match.group("kind")).lower()
    service = _SERVICE_ARN.fullmatch(resource)
    service_arn, path = (service.group(1), service.group(2) or "/") if service else (None, None)
    fields = {
        "principal": None if anonymous else principal,
        "anonymous": anonymous,
        "action": action,
        "resource": resource,
        "service_arn": service_arn,
        "path": path,
        "policy_type": kind,
        "explicit_deny": explicit_deny,
        "error_code": code,
        "body": body,
        "evidently_from_lattice": action.startswith(_LATTICE_ACTION_PREFIX) and service is not None,
    }
    hint = (
        _unsigned_hint(sent)
        if anonymous
        else _denial_hint(
            anonymous, principal, action, resource, service_arn or resource, kind, explicit_deny
        )
    )
    return Classification(AccessDeniedError, _message(code, text, hint), fields)


def _unsigned_hint(sent: _Sent) -> str:
    """Why a request reached Lattice without a signature, as far as the sender knows."""
    signed, reason = sent
    if signed is False:
        from ._origins import explain_unsigned

        return "Fix: " + (explain_unsigned(reason) or "lattice_client did not sign this request.")
    if signed is True:
        return (
            "Fix: lattice_client signed this request, yet Lattice saw no signature: something "
            "on the way (a proxy, a gateway, a sidecar) dropped the authorization and x-amz-* "
            "headers. Send it directly, or make that hop pass those headers unchanged."
        )
    return (
        "Fix: the request reached Lattice unsigned (User: anonymous) and the service uses "
        "AWS_IAM auth: send it through lattice_client.Client or LatticeTransport, or sign "
        "it with lattice_client.sign()."
    )


def _denial_hint(
    anonymous: bool,
    principal: str,
    action: str,
    resource: str,
    service_arn: str,
    kind: str,
    explicit_deny: bool,
) -> str:
    """One line saying which policy to change, in the words of the Lattice console."""
    if anonymous:
        return (
            "Fix: the request reached Lattice unsigned (User: anonymous) and the service uses "
            "AWS_IAM auth: send it through lattice_client.Client or LatticeTransport, or sign "
            "it with lattice_client.sign()."
        )
    if kind == IDENTITY_BASED:
        if explicit_deny:
            return (
                f"Fix: a Deny in an IAM policy of {principal} (identity policy, permissions "
                f"boundary or SCP) matches {action} on {resource}; narrow or remove it."
            )
        return (
            f"Fix: add an Allow for {action} on {resource} to an IAM identity policy "
            f"of {principal}."
        )
    if kind == SERVICE_BASED:
        if explicit_deny:
            return (
                f"Fix: the auth policy of service {service_arn} denies {principal}; "
                "narrow or remove that Deny statement."
            )
        return f"Fix: add an Allow for {principal} to the auth policy of service {service_arn}."
    if kind == NETWORK_BASED:
        if explicit_deny:
            return (
                f"Fix: the auth policy of the service network of {service_arn} denies "
                f"{principal}; narrow or remove that Deny statement."
            )
        return (
            f"Fix: add an Allow for {principal} to the auth policy of the service network "
            f"that {service_arn} is associated with."
        )
    return f"Fix: check the {kind} policy that applies to {principal} for {action} on {resource}."


def _is_expiry(
    code: str | None, text: str, server_time: datetime | None, signed_at: datetime | None
) -> bool:
    if code in EXPIRY_CODES:
        return True
    # Only InvalidSignatureException (or no name at all) carries the wording: the
    # target's own "...Exception: session expired" or "The security token ... is
    # expired" (ExpiredTokenException, about credentials) are no clock problem.
    if code not in (INVALID_SIGNATURE, None):
        return False
    lowered = text.lower()
    if code is None:  # a bare body must open with the phrase, not just mention it
        return lowered.startswith(EXPIRY_PHRASES)
    if any(phrase in lowered for phrase in EXPIRY_PHRASES):
        return True
    # Whatever the wording: a signature further from Lattice's clock than the
    # window allows cannot have been accepted.
    return (
        code == INVALID_SIGNATURE
        and server_time is not None
        and signed_at is not None
        and abs(server_time - signed_at) > SIGNATURE_WINDOW
    )


def _expired(
    status_code: int,
    code: str | None,
    text: str,
    body: bytes,
    server_time: datetime | None,
    signed_at: datetime | None,
) -> Classification:
    if server_time is not None and signed_at is not None:
        skew = (server_time - signed_at).total_seconds()
        ahead = "behind" if skew >= 0 else "ahead of"
        measured = f"the signature's time is {abs(skew):.0f} s {ahead} Lattice's clock; "
    else:
        measured = ""
    hint = (
        f"Fix: {measured}sync this host's clock (NTP, chrony, or the Amazon Time Sync "
        "Service at 169.254.169.123) and sign each request just before it is sent."
    )
    fields = {
        "server_time": server_time,
        "signed_at": signed_at,
        "status_code": status_code,
        "error_code": code,
        "body": body,
        "evidently_from_lattice": code in (INVALID_SIGNATURE, *EXPIRY_CODES),
    }
    return Classification(
        SignatureExpiredError, _message(code, text, hint), fields, server_time=server_time
    )


def _signature(
    error_class: type[SignatureError],
    status_code: int,
    code: str,
    text: str,
    body: bytes,
    sent: _Sent = (None, None),
) -> Classification:
    if error_class is InvalidSignatureError and "signed payload" in text.lower():
        hint = (
            "Fix: Lattice needs x-amz-content-sha256: UNSIGNED-PAYLOAD (signed too); "
            "lattice_client's signers send it, other signers hash the body over http://."
        )
    elif code == EXPIRED_TOKEN:
        hint = (
            "Fix: the session token has expired; use fresh credentials (refresh the role session)."
        )
    elif code == UNRECOGNIZED_CLIENT:
        hint = (
            "Fix: AWS does not recognise the access key id or session token (deleted key, "
            "another partition, a token from another session); check which credentials are used."
        )
    elif code == MISSING_AUTHENTICATION_TOKEN:
        hint = (
            _unsigned_hint(sent)
            if sent[0] is not None
            else "Fix: the request carries no signature: send it through lattice_client.Client "
            "or LatticeTransport, or sign it with lattice_client.sign()."
        )
    elif error_class is IncompleteSignatureError:
        hint = (
            "Fix: send every header the signature names (x-amz-security-token with "
            "temporary credentials), and do not let a proxy drop them."
        )
    elif sent[0] is True:
        hint = (
            "Fix: lattice_client signed this request as sent and Lattice computed another "
            "signature: check that the secret access key belongs to the access key id, that "
            "region= is the service's region and service= is vpc-lattice-svcs, and that "
            "nothing on the way rewrote the host, path, query or signed headers."
        )
    else:
        hint = (
            "Fix: sign the request exactly as it is sent (host, path, query, signed headers) "
            "with signing name vpc-lattice-svcs and the service's region."
        )
    fields = {
        "status_code": status_code,
        "error_code": code,
        "body": body,
        "evidently_from_lattice": True,
    }
    return Classification(error_class, _message(code, text, hint), fields)


def _by_status(
    status_code: int, code: str | None, text: str | None, body: bytes, whole: str
) -> Classification:
    error_class = _BY_STATUS.get(status_code, LatticeResponseError)
    if text is None:
        text = _WHITESPACE.sub(" ", whole)
    elif code is not None:
        text = f"{code}: {text}"
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        phrase = "error"
    excerpt = _printable(text) if text else "(empty body)"
    lines = [f"{status_code} {phrase}: {excerpt}"]
    hint = _HINT_BY_STATUS.get(error_class)
    if hint:
        lines.append(hint)
    fields = {"status_code": status_code, "error_code": code, "body": body}
    return Classification(error_class, "\n".join(lines), fields)


def _message(code: str | None, text: str, hint: str) -> str:
    said = f"{code}: {text}" if code else text
    return f"{_printable(said)}\n{hint}"


def _printable(text: str) -> str:
    """``text`` fit for one line of a message: no control characters, bounded."""
    text = _UNPRINTABLE.sub("?", text)
    if len(text) > _MESSAGE_LIMIT:
        text = text[:_MESSAGE_LIMIT] + "..."
    return text


def _http_date(value: str | None) -> datetime | None:
    """An RFC 9110 ``Date`` header as an aware datetime, or None when unreadable."""
    if not value:
        return None
    # Imported here: email.utils pulls in socket and more, and answers that need
    # it are rare; importing lattice_client stays cheap (Lambda cold starts).
    from email.utils import parsedate_to_datetime

    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed.replace(tzinfo=_UTC) if parsed.tzinfo is None else parsed.astimezone(_UTC)


def _message_time(text: str) -> datetime | None:
    match = _MESSAGE_SERVER_TIME.search(text)
    return parse_amz_date(match.group(1)) if match else None


def parse_amz_date(value: str | None) -> datetime | None:
    """An ``x-amz-date`` value (``20260101T000000Z``) as an aware datetime, or None."""
    if not value:
        return None
    try:
        return datetime.strptime(value.strip(), "%Y%m%dT%H%M%SZ").replace(tzinfo=_UTC)
    except ValueError:
        return None
