"""Sign gRPC calls to Amazon VPC Lattice services, with grpcio and grpc.aio.

Needs the extra ``grpc`` (``pip install 'vpc-lattice-client[grpc]'``). The grpc.aio
helpers are in `lattice_client.grpc.aio`.
"""

from __future__ import annotations

from lattice_client._exceptions import MissingDependencyError

try:
    import grpc as _grpc  # noqa: F401
except ImportError:
    raise MissingDependencyError("gRPC signing", extra="grpc", module="grpcio") from None

from ._call_credentials import LatticeAuthMetadataPlugin, call_credentials
from ._channel import insecure_channel, secure_channel
from ._errors import LatticeRpcError
from ._interceptor import SigningInterceptor

__all__ = [
    "LatticeAuthMetadataPlugin",
    "LatticeRpcError",
    "SigningInterceptor",
    "call_credentials",
    "insecure_channel",
    "secure_channel",
]
