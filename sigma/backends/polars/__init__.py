"""pySigma plugin: the neakta Polars backend (``sigma convert -t polars``)."""

from detect.backend import PolarsBackend

backends = {"polars": PolarsBackend}

__all__ = ["PolarsBackend", "backends"]
