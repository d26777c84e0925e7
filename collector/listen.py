"""Taking the listening ports before anything else starts (`kate serve`).

A port that is taken must stop the start before the DuckDB file is created or migrated, and
the error must name the setting that chose the port. Binds only: listening starts later.
"""

from __future__ import annotations

import errno
import socket


class PortUnavailable(OSError):
    """A listening address could not be bound; `setting` is the dotted key that chose it."""

    def __init__(self, setting: str, address: str, reason: str, *, taken: bool) -> None:
        super().__init__(f"{address} is {'taken' if taken else 'not available'} ({reason})")
        self.setting = setting
        self.address = address
        self.reason = reason
        self.taken = taken


def display_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_http(host: str, port: int, setting: str = "server.port", host_setting: str = "server.host") -> list[socket.socket]:
    """Bound sockets for every address of host (as asyncio's create_server would bind them),
    all on one port; port 0 picks a free one. PortUnavailable names setting when one fails."""
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, address in _addresses(host, port, host_setting):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address[0], port, *address[2:]))
            port = sock.getsockname()[1]  # port 0: the next addresses take the port the first got
    except OSError as exc:
        for sock in sockets:
            sock.close()
        reason = exc.strerror or str(exc)
        raise PortUnavailable(setting, display_address(host, port), reason, taken=exc.errno == errno.EADDRINUSE) from exc
    return sockets


def _addresses(host: str, port: int, host_setting: str) -> list[tuple[socket.AddressFamily, socket.SocketKind, int,
                                                                   tuple[object, ...]]]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortUnavailable(host_setting, display_address(host, port), exc.strerror or str(exc), taken=False) from exc
    unique = dict.fromkeys((family, kind, proto, address) for family, kind, proto, _, address in infos)
    return list(unique)
