"""obcp: an open, OCP-compatible control plane for OceanBase."""

__version__ = "0.1.0"
