"""The public API is exactly `lattice_client.__all__`: sorted, importable, from private modules."""

from __future__ import annotations

import lattice_client


def test_all_is_sorted_and_unique() -> None:
    """`__all__` is kept sorted so that additions are reviewed in one obvious place."""
    assert lattice_client.__all__ == sorted(set(lattice_client.__all__))


def test_every_name_in_all_exists() -> None:
    """Each exported name resolves; a stale entry would break `from lattice_client import *`."""
    for name in lattice_client.__all__:
        assert hasattr(lattice_client, name), name


def test_every_public_attribute_is_in_all() -> None:
    """Nothing public leaks out of the package without being listed in `__all__`."""
    # "@py_builtins"/"@pytest_ar" come from pytest rewriting the assertions of the
    # distribution that provides our pytest plugin (lattice_client.testing).
    public = {
        name
        for name, value in vars(lattice_client).items()
        if not name.startswith(("_", "@"))
        and name != "annotations"
        and not getattr(value, "__name__", "").startswith("lattice_client")
    }
    assert public <= set(lattice_client.__all__), public - set(lattice_client.__all__)


def test_public_classes_claim_the_package_as_their_module() -> None:
    """Exported classes and functions live in private modules; users import them from the top."""
    for name in lattice_client.__all__:
        value = getattr(lattice_client, name)
        module = getattr(value, "__module__", None)
        if module is not None and isinstance(value, type | type(lattice_client.sign)):
            assert module.startswith("lattice_client."), (name, module)
            assert module.split(".")[1].startswith("_") or module == "lattice_client.testing", (
                name,
                module,
            )
