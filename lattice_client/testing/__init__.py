"""A local stand-in for Amazon VPC Lattice's data plane, for tests and demos without AWS.

`LocalLattice` serves one Lattice service on loopback: it verifies SigV4/SigV4A
signatures independently of lattice-client's signer, evaluates an IAM-shaped
auth policy, applies listener rules and forwards requests to your app with the
headers Lattice adds. Needs the extra ``testing``
(``pip install 'vpc-lattice-client[testing]'``).
"""

from __future__ import annotations

from lattice_client.testing._config import Principal, Rule, ServiceNames
from lattice_client.testing._policy import AuthPolicy, PolicyError
from lattice_client.testing._server import LocalLattice
from lattice_client.testing._verifier import SignatureCheck, verify_signature

__all__ = [
    "AuthPolicy",
    "LocalLattice",
    "PolicyError",
    "Principal",
    "Rule",
    "ServiceNames",
    "SignatureCheck",
    "verify_signature",
]
