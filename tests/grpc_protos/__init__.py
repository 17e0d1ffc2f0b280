"""The gRPC test service: ``echo.proto``, compiled with grpcio-tools when the tests start.

The code is generated rather than committed so that it always matches the
installed protobuf runtime.
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import sys
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from types import ModuleType

PROTO_DIR = Path(__file__).parent


@cache
def load() -> tuple[ModuleType, ModuleType]:
    """``(echo_pb2, echo_pb2_grpc)``, generated once per process into a temporary directory."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="lattice-grpc-protos-")
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    well_known = resources.files("grpc_tools") / "_proto"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            str(PROTO_DIR / "echo.proto"),
        ]
    )
    if status != 0:
        raise RuntimeError(f"protoc failed on echo.proto with status {status}")
    # The generated echo_pb2_grpc imports echo_pb2 as a top-level module.
    sys.path.insert(0, out)
    try:
        return importlib.import_module("echo_pb2"), importlib.import_module("echo_pb2_grpc")
    finally:
        sys.path.remove(out)
