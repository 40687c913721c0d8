"""Cluster, zone and server operations (restart, start, stop) as task templates of the engine."""
