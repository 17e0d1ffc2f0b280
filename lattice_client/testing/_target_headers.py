"""The headers Lattice adds to a request it forwards to a target (http-targets.html).

Lattice strips caller-sent copies of these before adding its own, so that they
cannot be spoofed. Formats follow the Lattice user guide and published captures
(docs/assumptions.md); the choices marked NOT DOCUMENTED live here and nowhere else.
"""

from __future__ import annotations

from lattice_client.testing._config import Principal, ServiceNames

# Everything the caller might send that a target must only ever get from Lattice.
STRIPPED_PREFIXES = (b"x-amzn-lattice-", b"x-forwarded-")
# The local Lattice's own request header naming the caller's VPC (its stand-in for the
# VPC a request comes from); never forwarded.
SOURCE_VPC_HEADER = "x-local-lattice-source-vpc"
STRIPPED = frozenset({b"x-amzn-source-vpc", b"forwarded", SOURCE_VPC_HEADER.encode()})

# NOT DOCUMENTED which spelling current Lattice uses: the user guide has said both
# x-forwarded-port/-proto and x-forwarded-for-port/-for-proto. Send both.
FORWARDED_PORT = (b"x-forwarded-port", b"x-forwarded-for-port")
FORWARDED_PROTO = (b"x-forwarded-proto", b"x-forwarded-for-proto")

# NOT DOCUMENTED: whether Lattice removes the caller's authorization and x-amz-*
# headers before forwarding. The local Lattice passes them on, as received.
STRIP_SIGNATURE_HEADERS = False

# NOT DOCUMENTED: what x-amzn-lattice-identity says for an anonymous caller (auth
# type NONE, or Principal "*" on AWS_IAM). The local Lattice omits the header.


def is_stripped(name: bytes) -> bool:
    """True for a header Lattice removes from the caller's request before forwarding.

    Names are compared folded (case, ``_`` as ``-``): WSGI servers, and ASGI
    frameworks that build a WSGI-style environ, read ``x_amzn_lattice_identity``
    and ``x-amzn-lattice-identity`` as the same ``HTTP_X_AMZN_LATTICE_IDENTITY``,
    so a caller's underscore spelling would otherwise pass as Lattice's header.
    """
    folded = name.lower().replace(b"_", b"-")
    if STRIP_SIGNATURE_HEADERS and (folded == b"authorization" or folded.startswith(b"x-amz-")):
        return True
    return folded in STRIPPED or folded.startswith(STRIPPED_PREFIXES)


def identity(principal: Principal) -> bytes:
    """``x-amzn-lattice-identity``: ``Principal=...; PrincipalOrgID=...; SessionName=...;
    Type=AWS_IAM`` (``; `` separated, as seen in a capture); absent keys are left out."""
    parts = [f"Principal={principal.arn}"]
    if principal.org_id:
        parts.append(f"PrincipalOrgID={principal.org_id}")
    if principal.session_name:
        parts.append(f"SessionName={principal.session_name}")
    parts.append("Type=AWS_IAM")
    return "; ".join(parts).encode()


def identity_tags(principal: Principal) -> bytes:
    """``x-amzn-lattice-identity-tags``: ``principal=...;principalorgid=...;<tag>=<value>``,
    with semicolons inside values escaped by a backslash."""
    pairs: dict[str, str] = {"principal": principal.arn}
    if principal.org_id:
        pairs["principalorgid"] = principal.org_id
    pairs.update(principal.tags)
    return ";".join(f"{k}={_escape(v)}" for k, v in pairs.items()).encode()


def network(source_vpc_arn: str) -> bytes:
    """``x-amzn-lattice-network``: ``SourceVpcArn=arn:aws:ec2:<region>:<acct>:vpc/<id>``."""
    return f"SourceVpcArn={source_vpc_arn}".encode()


def target(names: ServiceNames, service_network_arn: str) -> bytes:
    """``x-amzn-lattice-target``: ``ServiceArn=...;ServiceNetworkArn=...;TargetGroupArn=...``."""
    return (
        f"ServiceArn={names.service_arn};ServiceNetworkArn={service_network_arn};"
        f"TargetGroupArn={names.target_group_arn}"
    ).encode()


def added_headers(
    principal: Principal | None,
    names: ServiceNames,
    *,
    source_vpc_arn: str,
    vpc_id: str,
    service_network_arn: str,
    client_ip: str,
    port: int,
    scheme: str,
) -> list[tuple[bytes, bytes]]:
    """All the headers Lattice adds to a forwarded request."""
    headers: list[tuple[bytes, bytes]] = []
    if principal is not None:
        headers.append((b"x-amzn-lattice-identity", identity(principal)))
        headers.append((b"x-amzn-lattice-identity-tags", identity_tags(principal)))
    headers += [
        (b"x-amzn-lattice-network", network(source_vpc_arn)),
        (b"x-amzn-lattice-target", target(names, service_network_arn)),
        (b"x-amzn-source-vpc", vpc_id.encode()),
        (b"x-forwarded-for", client_ip.encode()),
    ]
    headers += [(name, str(port).encode()) for name in FORWARDED_PORT]
    headers += [(name, scheme.encode()) for name in FORWARDED_PROTO]
    return headers


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;")
