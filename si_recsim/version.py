"""The installed package version (``0.0.0`` in a source tree that is not installed)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("si_recsim")
except PackageNotFoundError:
    __version__ = "0.0.0"
