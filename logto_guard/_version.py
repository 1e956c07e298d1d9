"""The package version, in one place (pyproject.toml reads it: version is dynamic)."""

__version__ = "0.2.0"
