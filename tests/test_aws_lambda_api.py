"""The public API of `lattice_client.aws_lambda` is exactly its sorted `__all__`."""

from __future__ import annotations

import inspect
import subprocess
import sys

from lattice_client import aws_lambda


def test_all_is_sorted_unique_and_complete() -> None:
    """`__all__` is sorted, every name resolves, and nothing public is left out of it."""
    assert aws_lambda.__all__ == sorted(set(aws_lambda.__all__))
    for name in aws_lambda.__all__:
        assert hasattr(aws_lambda, name), name
    public = {
        name
        for name, value in vars(aws_lambda).items()
        if not name.startswith("_") and name != "annotations" and not inspect.ismodule(value)
    }
    assert public <= set(aws_lambda.__all__), public - set(aws_lambda.__all__)


def test_names_live_in_private_modules() -> None:
    """Classes and functions are defined in private modules and imported from the package."""
    for name in aws_lambda.__all__:
        module = getattr(getattr(aws_lambda, name), "__module__", None)
        if module is not None and module.startswith("lattice_client"):
            assert module.split(".")[-1].startswith("_"), (name, module)


def test_importing_pulls_in_neither_botocore_nor_httpx() -> None:
    """A target that only parses events pays for neither botocore nor httpx at import."""
    code = (
        "import sys, lattice_client.aws_lambda; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'botocore', 'httpx'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
