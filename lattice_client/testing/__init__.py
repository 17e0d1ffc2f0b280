"""A local stand-in for Amazon VPC Lattice's data plane, for tests and demos without AWS.

`LocalLattice` serves one Lattice service on loopback (`LocalServiceNetwork`
several, with the service network's auth policy and VPC associations): it verifies SigV4/SigV4A
signatures independently of lattice-client's signer, evaluates an IAM-shaped
auth policy, applies listener rules and forwards requests to your app with the
headers Lattice adds. Needs the extra ``testing``
(``pip install 'vpc-lattice-client[testing]'``).
"""

from __future__ import annotations

from lattice_client.testing._config import Principal, Rule, ServiceNames
from lattice_client.testing._network import LocalServiceNetwork, Service, Vpc
from lattice_client.testing._policy import AuthPolicy, PolicyError
from lattice_client.testing._server import LocalLattice
from lattice_client.testing._verifier import SignatureCheck, verify_signature

__all__ = [
    "AuthPolicy",
    "LocalLattice",
    "LocalServiceNetwork",
    "PolicyError",
    "Principal",
    "Rule",
    "Service",
    "ServiceNames",
    "SignatureCheck",
    "Vpc",
    "verify_signature",
]
