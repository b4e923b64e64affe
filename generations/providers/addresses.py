"""Decide which URLs the guarded downloader may fetch, and at which IP address.

docs/architecture.md "What must hold": downloads of user-given or provider URLs are HTTP(S) only,
never to private, loopback or link-local addresses (checked on the resolved address, redirects
included), except the configured simulator. Each hop is resolved here once; the downloader then
connects to one of the vetted addresses, so a second DNS answer cannot swap in another one.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils.translation import gettext

from .errors import DownloadError, DownloadReason, DownloadRefused

_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_URL_CHARS = 4096

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """One vetted hop: where to connect and how to name the host on the wire.

    Attributes:
        url: the URL as requested (redirects are resolved against it).
        scheme: ``http`` or ``https``.
        host: the ASCII host name or IP literal, lower case, without brackets.
        port: the TCP port.
        addresses: the resolved addresses, all vetted, in resolver order.
    """

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        """Return the ``Host`` header value: host, bracketed if IPv6, port if not default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    def url_for(self, address: str) -> str:
        """Return :attr:`url` with the host replaced by ``address`` (to connect by IP)."""
        parts = urlsplit(self.url)
        netloc = f"[{address}]" if ":" in address else address
        return parts._replace(netloc=f"{netloc}:{self.port}", fragment="").geturl()


def is_public_address(ip: IPAddress) -> bool:
    """Tell whether ``ip`` is a globally routable unicast address.

    Refuses private, loopback, link-local, multicast, reserved, unspecified and shared
    (100.64/10) addresses, and IPv6 forms that embed such an IPv4 address (IPv4-mapped
    ``::ffff:a.b.c.d`` and 6to4 ``2002::/16``).
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None and not is_public_address(embedded):
            return False
        if ip.ipv4_mapped is not None:
            return True
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _is_loopback(ip: IPAddress) -> bool:
    """Tell whether ``ip`` is a loopback address, IPv4-mapped forms included."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _host_allowed(host: str, port: int, allow_loopback_hosts: frozenset[str]) -> bool:
    """Tell whether ``host:port`` is a configured loopback exception (e.g. the simulator)."""
    bracketed = f"[{host}]" if ":" in host else host
    return bool({host, f"{host}:{port}", f"{bracketed}:{port}"} & allow_loopback_hosts)


def resolve_target(url: str, *, allow_loopback_hosts: frozenset[str] = frozenset()) -> Target:
    """Parse ``url``, resolve its host once and vet every address it resolves to.

    Args:
        url: an absolute ``http`` or ``https`` URL.
        allow_loopback_hosts: ``host:port`` strings or bare host names (lower case) that may
            resolve to loopback addresses, e.g. ``{"127.0.0.1:8765"}`` for the simulator.
            Private and link-local addresses stay refused even for them.

    Returns:
        The vetted :class:`Target`; connect only to its ``addresses``.

    Raises:
        DownloadRefused: bad scheme or URL (reasons ``SCHEME``, ``URL``), or an address that
            is not public (``ADDRESS``). A host with one bad address among good ones is
            refused as a whole.
        DownloadError: the host name does not resolve (``DNS``; may be temporary).
    """
    if len(url) > _MAX_URL_CHARS:
        raise DownloadRefused(gettext("The URL is too long."), reason=DownloadReason.URL)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DownloadRefused(gettext("The URL is not valid."), reason=DownloadReason.URL) from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise DownloadRefused(
            gettext("Only http and https URLs are allowed."), reason=DownloadReason.SCHEME
        )
    if not parts.hostname:
        raise DownloadRefused(gettext("The URL has no host."), reason=DownloadReason.URL)
    if parts.username is not None or parts.password is not None:
        raise DownloadRefused(
            gettext("URLs with a user name or password are not allowed."), reason=DownloadReason.URL
        )
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise DownloadRefused(
            gettext("The URL's host name is not valid."), reason=DownloadReason.URL
        ) from exc
    port = port or _DEFAULT_PORTS[scheme]
    addresses = _resolve(host, port)
    loopback_ok = _host_allowed(host, port, allow_loopback_hosts)
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if not (is_public_address(ip) or (loopback_ok and _is_loopback(ip))):
            raise DownloadRefused(
                gettext("The URL points to a private or local network address."),
                reason=DownloadReason.ADDRESS,
                detail=f"{host} resolves to {address}",
            )
    return Target(url=url, scheme=scheme, host=host, port=port, addresses=addresses)


def _resolve(host: str, port: int) -> tuple[str, ...]:
    """Return the distinct addresses ``host`` resolves to, in resolver order.

    Raises:
        DownloadError: resolution failed or gave nothing (reason ``DNS``).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DownloadError(
            "The URL's host name could not be resolved.", reason=DownloadReason.DNS, detail=host
        ) from exc
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise DownloadError(
            "The URL's host name could not be resolved.", reason=DownloadReason.DNS, detail=host
        )
    return tuple(addresses)
