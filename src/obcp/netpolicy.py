"""Where the server may connect: observers over MySQL and agents over HTTP, only inside the networks of
`OBCP_CONNECT_ALLOW` when it is set (comma-separated, e.g. `127.0.0.0/8,10.1.0.0/16`).

A control plane that registers addresses from API calls must be able to promise that it reaches nothing
else (a mistyped host, a fuzzing client, a site with several networks). Unset, every address is allowed,
as before. Set, a destination must be an IP address inside one of the networks (or `localhost`, which is
127.0.0.1): a host name is refused rather than resolved, since even the DNS query would leave.
"""

from __future__ import annotations

import ipaddress
import os

ENV = "OBCP_CONNECT_ALLOW"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class DestinationRefused(Exception):
    """The destination is outside `OBCP_CONNECT_ALLOW`; nothing was sent."""


def allowed_networks(value: str | None = None) -> list[Network] | None:
    """The configured networks, or None when every destination is allowed."""
    text = os.environ.get(ENV, "") if value is None else value
    if not text.strip():
        return None
    try:
        return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise DestinationRefused(f"{ENV}={text!r} is not a comma-separated list of networks: {exc}") from exc


def check_destination(address: str, what: str) -> None:
    """Raises DestinationRefused, naming `what` and the address, when `address` is not allowed."""
    networks = allowed_networks()
    if networks is None:
        return
    shown = ",".join(str(n) for n in networks)
    try:
        ip = ipaddress.ip_address("127.0.0.1" if address == "localhost" else address)
    except ValueError:
        raise DestinationRefused(
            f"{what} {address}: a host name, and {ENV} ({shown}) allows only IP addresses inside its networks"
        ) from None
    if not any(ip in net for net in networks):
        raise DestinationRefused(f"{what} {address}: outside {ENV} ({shown}); nothing was sent")
