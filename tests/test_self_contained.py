"""A clone or an sdist runs its own tests: nothing reads data from outside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Built from parts so that this file does not name the folder it forbids.
OUTSIDE_FOLDER = "/".join(["..", "shared"])
CHECKED = ["tests", "benchmarks", "examples", ".ci"]


def _files() -> list[Path]:
    files = []
    for top in CHECKED:  # an sdist carries no .ci/
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files.append(path)
    return files


def test_there_are_files_to_check() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in _files()}
    assert {"tests/test_conformance.py", "tests/test_aws_lambda_event.py"} <= names


@pytest.mark.parametrize("top", CHECKED)
def test_nothing_refers_to_a_folder_beside_the_checkout(top: str) -> None:
    offenders = [
        path.relative_to(ROOT).as_posix()
        for path in _files()
        if path.relative_to(ROOT).parts[0] == top
        and OUTSIDE_FOLDER in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == [], f"these read test data from outside the checkout: {offenders}"


def test_the_test_data_keeps_its_licenses() -> None:
    suite = ROOT / "tests" / "data" / "sigv4-test-suite"
    for upstream in ("aws-c-auth", "aws-c-auth-unsigned-payload", "botocore"):
        assert (suite / upstream / "LICENSE").is_file()
        assert (suite / upstream / "NOTICE").is_file()


def test_shipped_source_names_no_development_machine_paths() -> None:
    """The package cites public documents, not files on a developer's machine."""
    # Built from parts, as above, so that this file does not trip other checks.
    machine_paths = ["/" + "work/", "/" + "home/", "shared" + "/"]
    offenders = [
        f"{path.relative_to(ROOT).as_posix()}: {needle}"
        for path in sorted((ROOT / "lattice_client").rglob("*.py"))
        for needle in machine_paths
        if needle in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
