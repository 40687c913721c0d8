"""`obcp agent install` and `obcp server install`: systemd units for the agent and the server."""
