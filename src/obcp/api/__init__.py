"""The HTTP API: OCP's v2 wire format."""
