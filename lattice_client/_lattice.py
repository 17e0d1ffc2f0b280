"""What lattice-client assumes about VPC Lattice's data plane, in one place.

Each constant cites where the fact comes from. The ones marked NOT DOCUMENTED
are our assumptions; docs/assumptions.md lists them for users. Change them here
and nowhere else.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Signing name of Lattice services (sigv4-authenticated-requests.html).
SIGNING_NAME = "vpc-lattice-svcs"

# "VPC Lattice does not support payload signing": the payload line of every
# canonical request and the x-amz-content-sha256 header carry this literal.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

# SigV4A region set that means "any region" (AWS's own Lattice samples use it).
ANY_REGION = "*"

# NOT DOCUMENTED: whether Lattice canonicalises a path with the generic double
# encoding (AWS's Python/Java/Node samples) or with single encoding (the Go
# sample's DisableDoublePathEscape). They differ for "%XX" escapes and for raw
# reserved characters ("/a:b" is "/a%3Ab" doubly encoded, "/a:b" singly); they
# agree on paths of unreserved characters and "/" only. Default: the generic
# rule; `double_encode_path=False` switches.
DOUBLE_ENCODE_PATH = True

# Headers that HTTP stacks, proxies and load balancers add, drop or rewrite on
# the way: signing them breaks the signature for reasons the caller cannot see.
# AWS's samples leave them out. `authorization` is the signature's own header.
UNSIGNED_HEADERS = frozenset(
    {
        "authorization",
        "connection",
        "expect",
        "forwarded",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "via",
        "x-amzn-trace-id",
    }
)
UNSIGNED_HEADER_PREFIXES = ("x-forwarded-",)

# A generated Lattice service name carries its region as the label before
# ".on.aws": <name>-<id>.<partition-id>.vpc-lattice-svcs.<region>.on.aws
# (service-custom-domain-name.html). Custom domains carry none.
_GENERATED_NAME = re.compile(r"\.vpc-lattice-svcs\.([a-z0-9-]+)\.on\.aws\.?$", re.IGNORECASE)


# Generated names resolve (private DNS) only in VPCs associated with the service
# network or through a service-network VPC endpoint (service-networks.html,
# service-network-associations.html): from anywhere else they do not resolve.
NOT_RESOLVED_HINT = (
    "generated Lattice names (...vpc-lattice-svcs.<region>.on.aws) resolve only inside VPCs "
    "associated with the service network, or through a service-network VPC endpoint, not "
    "from a laptop or another network. Run this from such a VPC (an instance, a container, a "
    "Lambda function attached to it), or use a custom domain name that resolves where you are."
)


@lru_cache(maxsize=256)
def region_from_host(host: str) -> str | None:
    """Return the region of a generated Lattice service name, or None for any other host."""
    match = _GENERATED_NAME.search(host.rpartition(":")[0] if _has_port(host) else host)
    return match.group(1).lower() if match else None


def _has_port(host: str) -> bool:
    # "[::1]:443" and "example:443" have ports; a bare IPv6 literal "[::1]" has none.
    return ":" in host and not host.endswith("]")


# NOT DOCUMENTED: which of Lattice's answers are transient, worth sending the
# request again. 503 and 502 come in bursts of about 5 s while a target group
# rolls or scales in, even with healthy targets (reported in
# aws-application-networking-k8s#780); 504 is a target timeout; 429 is the
# AWS-wide "slow down". Retries (when turned on) send again after these only.
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})

# How long a SigV4 signature is accepted around its x-amz-date (AWS-wide, not
# documented for Lattice; the same assumption as _answers.SIGNATURE_WINDOW).
# Stacks that retry below the signer (urllib3, grpcio) re-send one signature, so
# a call's attempts must all fit well inside it: see _retries.MAX_TOTAL.
SIGNATURE_VALIDITY_SECONDS = 300.0
