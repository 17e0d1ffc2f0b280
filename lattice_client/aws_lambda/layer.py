"""Build an AWS Lambda layer zip holding lattice-client and what it needs at run time.

    python -m lattice_client.aws_lambda.layer --python 3.12 --arch arm64 -o layer.zip
    lattice-lambda-layer --python 3.12 --arch x86_64          # the same, as a script

Works from any machine: pip is asked for the wheels of the Lambda platform
(``--platform manylinux2014_x86_64`` or ``manylinux2014_aarch64``,
``--implementation cp``, ``--python-version``, ``--only-binary=:all:``), never
for what suits the machine running it. The zip has Lambda's ``python/``
layout, fixed timestamps and sorted entries, so the same inputs give the same
bytes.

botocore is left out by default: every Lambda Python runtime ships boto3 and
botocore, and lattice-client imports botocore only to resolve credentials that
are not in the environment (SnapStart's container credentials, profiles) or to
use a botocore session you pass. Leaving it out saves most of the layer's
size. ``--with-botocore`` puts it in, to pin its version.

Bytecode: Lambda unpacks layers into the read-only ``/opt``, where Python
cannot cache what it compiles, so a layer without ``.pyc`` files recompiles
every module on every cold start. When the Python running the build is the
target's version, the layer carries bytecode (``unchecked-hash`` pycs: valid
whatever the timestamps in the zip); for another version it cannot be made
here, and the command says so.
"""

from __future__ import annotations

import argparse
import compileall
import email.parser
import importlib.util
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lattice_client
from lattice_client._exceptions import ConfigurationError, LatticeError

__all__ = ["ARCHITECTURES", "LayerBuild", "LayerBuildError", "build_layer", "main"]

# Lambda's architectures and the wheel platform tag of each (Lambda's runtimes
# run Amazon Linux 2 / 2023, both glibc >= 2.17, so manylinux2014 wheels fit).
ARCHITECTURES = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
_ARCH_ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "aarch64": "arm64", "arm": "arm64"}
_PYTHON = re.compile(r"3\.(\d+)")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: reproducible archives
_PROJECT = "vpc-lattice-client"


class LayerBuildError(LatticeError):
    """pip could not build the layer; the message ends with pip's own last lines."""


@dataclass(frozen=True, slots=True)
class LayerBuild:
    """A built layer: where it is, its sizes in bytes, and the distributions inside."""

    path: Path
    zip_bytes: int
    unpacked_bytes: int
    python: str
    architecture: str
    with_botocore: bool
    distributions: tuple[str, ...]
    bytecode: bool


def build_layer(
    output: str | os.PathLike[str],
    *,
    python: str,
    architecture: str = "x86_64",
    with_botocore: bool = False,
    source: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    bytecode: bool | None = None,
) -> LayerBuild:
    """Build the layer zip at ``output`` for Lambda's ``python`` ("3.12") and ``architecture``.

    ``source`` is what to package as lattice-client: a project directory, a
    wheel file, or a requirement such as ``"vpc-lattice-client==1.0"``; by default
    the source tree this module runs from if there is one, else this version
    from the package index. ``cache_dir`` is pip's download cache. ``bytecode``
    (default: when this Python is ``python``) precompiles the modules, which
    Lambda cannot cache itself; True with another version is an error.
    """
    version = _python_version(python)
    this_python = f"{sys.version_info.major}.{sys.version_info.minor}"
    if bytecode is None:
        bytecode = version == this_python
    elif bytecode and version != this_python:
        raise ConfigurationError(
            f"bytecode for Python {version} can only be compiled by Python {version}; "
            f"this is {this_python}: run the build with Python {version} or without bytecode"
        )
    arch = _architecture(architecture)
    out = Path(output)
    with tempfile.TemporaryDirectory(prefix="lattice-layer-") as scratch:
        work = Path(scratch)
        target = work / "python"
        pip_base = [
            sys.executable,
            "-m",
            "pip",
            "--disable-pip-version-check",
            "--no-input",
        ]
        if cache_dir is not None:
            pip_base += ["--cache-dir", os.fspath(cache_dir)]
        package = _package(source, work / "wheels", pip_base)
        install = [
            *pip_base,
            "install",
            "--target",
            os.fspath(target),
            "--platform",
            ARCHITECTURES[arch],
            "--implementation",
            "cp",
            "--python-version",
            version,
            "--only-binary=:all:",
            "--no-compile",  # bytecode for this machine's Python would be dead weight
            "--no-warn-script-location",
            "--quiet",
        ]
        if with_botocore:
            _run([*install, package], "installing lattice-client and its dependencies")
        else:
            requirements = [r for r in _requirements(package) if _name(r) != "botocore"]
            _run([*install, "--no-deps", package], "installing lattice-client")
            if requirements:
                _run([*install, *requirements], "installing the dependencies")
        excluded = set() if with_botocore else {"botocore"}
        # pip evaluates environment markers for the Python running it, not for
        # --python-version: add what the target's markers want and are missing
        # (anyio's exceptiongroup on 3.10, say), until nothing is.
        for _ in range(5):
            missing = _missing_for_target(target, version, arch, excluded)
            if not missing:
                break
            _run([*install, *missing], f"installing {', '.join(missing)} for Python {version}")
        # Console scripts name this machine's interpreter; caches are bytecode.
        shutil.rmtree(target / "bin", ignore_errors=True)
        for cache in sorted(target.rglob("__pycache__"), reverse=True):
            shutil.rmtree(cache)
        if bytecode and not compileall.compile_dir(
            target,
            quiet=2,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            workers=1,
        ):
            raise LayerBuildError("compiling the layer's modules to bytecode failed")
        unpacked = _write_zip(work, target, out)
        distributions = tuple(
            sorted(p.name.removesuffix(".dist-info") for p in target.glob("*.dist-info"))
        )
    return LayerBuild(
        path=out,
        zip_bytes=out.stat().st_size,
        unpacked_bytes=unpacked,
        python=version,
        architecture=arch,
        with_botocore=with_botocore,
        distributions=distributions,
        bytecode=bytecode,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lattice_client.aws_lambda.layer",
        description="Build an AWS Lambda layer zip (python/ layout) with lattice-client.",
    )
    parser.add_argument(
        "--python",
        default=f"{sys.version_info.major}.{sys.version_info.minor}",
        help="the Lambda runtime's Python version, e.g. 3.12 (default: this Python's)",
    )
    parser.add_argument(
        "--arch",
        default="x86_64",
        choices=sorted([*ARCHITECTURES, *_ARCH_ALIASES]),
        help="the function's architecture (default: x86_64)",
    )
    parser.add_argument(
        "-o",
        "--output",
        help="the zip to write (default: lattice-client-layer-py<PYTHON>-<ARCH>.zip)",
    )
    parser.add_argument(
        "--with-botocore",
        action="store_true",
        help="also package botocore (Lambda's runtime already has it)",
    )
    parser.add_argument(
        "--source",
        help="a project directory, a wheel, or a requirement to package (default: the source "
        "tree this runs from, else this version from the package index)",
    )
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="leave out precompiled .pyc files (included by default when this Python "
        "is the target's version: Lambda cannot cache bytecode in /opt)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: build a layer and print where it is and how large."""
    args = _parser().parse_args(argv)
    arch = _architecture(args.arch)
    output = args.output or f"lattice-client-layer-py{args.python}-{arch}.zip"
    try:
        built = build_layer(
            output,
            python=args.python,
            architecture=arch,
            with_botocore=args.with_botocore,
            source=args.source,
            bytecode=False if args.no_bytecode else None,
        )
    except LatticeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{built.path}: Python {built.python} on {built.architecture}")
    print(f"  zip:      {built.zip_bytes / 1e6:.2f} MB ({built.zip_bytes} bytes)")
    print(f"  unpacked: {built.unpacked_bytes / 1e6:.2f} MB ({built.unpacked_bytes} bytes)")
    print(f"  contents: {', '.join(built.distributions)}")
    if not built.bytecode and not args.no_bytecode:
        print(
            f"  bytecode: not included: only Python {built.python} can compile it, and Lambda "
            "recompiles every module on each cold start without it",
            file=sys.stderr,
        )
    return 0


def _python_version(python: str) -> str:
    match = _PYTHON.fullmatch(python.strip()) if isinstance(python, str) else None
    if match is None or int(match.group(1)) < 10:
        raise ConfigurationError(
            f"python= must be a Lambda Python version such as '3.12' (3.10 or later), "
            f"not {python!r}"
        )
    return match.group(0)


def _architecture(architecture: str) -> str:
    arch = _ARCH_ALIASES.get(architecture, architecture)
    if arch not in ARCHITECTURES:
        raise ConfigurationError(
            f"architecture= must be 'x86_64' or 'arm64' (Lambda's names), not {architecture!r}"
        )
    return arch


def _package(source: str | os.PathLike[str] | None, wheels: Path, pip: list[str]) -> str:
    """A wheel file (built from a project directory) or a requirement, for pip to install."""
    if source is None:
        tree = Path(lattice_client.__file__).resolve().parents[1]
        if (tree / "pyproject.toml").is_file() and (tree / "lattice_client").is_dir():
            source = tree
        else:
            return f"{_PROJECT}=={lattice_client.__version__}"
    path = Path(source)
    if path.is_dir():
        command = [*pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", os.fspath(wheels)]
        if importlib.util.find_spec("hatchling") is not None:
            command.append("--no-build-isolation")  # hatchling is here: no download needed
        _run([*command, os.fspath(path)], f"building a wheel from {path}")
        built = sorted(wheels.glob(f"{_PROJECT.replace('-', '_')}-*.whl"))
        if not built:
            raise LayerBuildError(f"pip built no {_PROJECT} wheel from {path}")
        return os.fspath(built[-1])
    if path.suffix == ".whl" and not path.is_file():
        raise ConfigurationError(f"source= names a wheel that does not exist: {path}")
    return os.fspath(source)


def _requirements(package: str) -> list[str]:
    """The run-time requirements (no extras) of a wheel; a requirement string has none known."""
    if not package.endswith(".whl"):
        # A requirement from the index: let pip resolve it, then botocore is
        # excluded by installing it with --no-deps and its dependencies by name.
        return _index_requirements(package)
    with zipfile.ZipFile(package) as wheel:
        name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.BytesParser().parsebytes(wheel.read(name), headersonly=True)
    return _without_extras(metadata.get_all("Requires-Dist") or [])


def _index_requirements(requirement: str) -> list[str]:
    # The installed lattice-client's metadata describes the same version.
    from importlib.metadata import PackageNotFoundError, requires

    try:
        found = requires(_PROJECT) or []
    except PackageNotFoundError:
        raise ConfigurationError(
            f"cannot tell the dependencies of {requirement!r} here; pass a wheel as source="
        ) from None
    return _without_extras(found)


def _without_extras(requirements: Sequence[str]) -> list[str]:
    """The requirements whose marker does not ask for an extra."""
    return [r for r in requirements if "extra" not in r.partition(";")[2]]


def _missing_for_target(target: Path, version: str, arch: str, excluded: set[str]) -> list[str]:
    """Requirements of the installed distributions that apply on Lambda but are not installed."""
    try:
        from packaging.markers import Marker
    except ImportError:  # pip's own copy: pip is here, we are running it
        from pip._vendor.packaging.markers import Marker  # type: ignore[assignment]

    environment = {
        "python_version": version,
        "python_full_version": f"{version}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "aarch64" if arch == "arm64" else "x86_64",
        "extra": "",
    }
    installed = {_name(p.name.partition("-")[0]) for p in target.glob("*.dist-info")}
    missing: dict[str, str] = {}
    for metadata_file in sorted(target.glob("*.dist-info/METADATA")):
        metadata = email.parser.BytesParser().parsebytes(
            metadata_file.read_bytes(), headersonly=True
        )
        for requirement in _without_extras(metadata.get_all("Requires-Dist") or []):
            spec, _, marker = requirement.partition(";")
            name = _name(spec)
            if name in installed or name in excluded or name in missing:
                continue
            if marker.strip() and not Marker(marker.strip()).evaluate(environment):
                continue
            missing[name] = spec.strip()
    return list(missing.values())


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    return re.sub(r"[-_.]+", "-", match.group(0)).lower() if match else ""


def _run(command: list[str], doing: str) -> None:
    # The command is this interpreter's pip with arguments built here, never a shell.
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise LayerBuildError(f"pip failed while {doing}:\n{tail}")


def _write_zip(root: Path, target: Path, output: Path) -> int:
    """Zip ``target`` as ``python/...`` (sorted, fixed times); return the unpacked size."""
    output.parent.mkdir(parents=True, exist_ok=True)
    unpacked = 0
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        files = {p.relative_to(root).as_posix(): p for p in target.rglob("*") if p.is_file()}
        for name, path in sorted(files.items()):
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            data = path.read_bytes()
            unpacked += len(data)
            archive.writestr(info, data, compresslevel=9)
    partial.replace(output)
    return unpacked


if __name__ == "__main__":
    raise SystemExit(main())
