"""A local multi-zone cluster of real seekdb observers, one agent per loopback host address."""
