"""The one way Sluice makes an outgoing HTTP request (provider APIs, webhook deliveries).

An `OutgoingSession` applies the rules to every request it sends, so no caller can forget one:

- the environment is not trusted: proxy variables and `.netrc` are ignored;
- redirects are never followed: a 3xx is the answer;
- every request has a connect and a read timeout;
- every request carries a User-Agent;
- the URL must pass `validate_url` (http or https, no `user:password@`, no internal host): the
  one place the egress policy lives;
- a connection goes only to an address the policy allows, and to the very address that was
  checked: the host is resolved once per connection, so a DNS answer that changes between the
  check and the connect (rebinding) cannot redirect it. The Host header, TLS SNI and the
  certificate check still use the URL's host name;
- nothing is sent from inside a database transaction (`ensure_no_transaction`).

Modelled on Zulip's `zerver/lib/outgoing_http.py`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import socket
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import requests
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError
from urllib3.util.connection import allowed_gai_family

# (connect, read) seconds; a single number means both.
Timeout = float | tuple[float, float]

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata services (AWS, GCP, Azure, Oracle, ECS tasks, Alibaba): refused even
# when private targets are allowed. Their link-local addresses are refused anyway; these names
# and the ones outside link-local space are listed so the rule reads in one place.
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
# Services that never speak HTTP to us but may read a request as commands (SMTP, Docker's API,
# etcd, MySQL, PostgreSQL, Redis, Memcached, MongoDB, …): refused on any host, even when
# private targets are allowed.
BLOCKED_PORTS = frozenset({22, 23, 25, 110, 143, 465, 587, 2375, 2376, 2379, 3306, 5432, 6379,
                           11211, 27017})  # fmt: skip
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class NetworkInTransaction(RuntimeError):
    """A network call was about to start inside a database transaction: a programming error.
    The transaction would hold its locks and connection for as long as the remote side takes,
    and a rollback cannot take back what was sent."""


class RefusedUrl(ValueError):
    """The URL may not be called (see `validate_url`). The message never repeats the URL: it
    may carry credentials."""


def in_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether this thread's connection is inside an atomic block opened by our code. Django's
    TestCase wraps each test in atomics marked `_from_testcase`; those are not ours."""
    blocks = connections[using].atomic_blocks
    return any(not getattr(block, "_from_testcase", False) for block in blocks)


def ensure_no_transaction(purpose: str) -> None:
    """Raises `NetworkInTransaction` when the default database connection is inside a
    transaction. Call it before anything that may reach the network; `purpose` names it."""
    if in_transaction():
        raise NetworkInTransaction(
            f"{purpose} inside a database transaction: commit first, then call out "
            "(or schedule the call with transaction.on_commit)."
        )


def private_targets_allowed() -> bool:
    """`SLUICE_EGRESS_ALLOW_PRIVATE`: the operator lets Sluice call loopback, private and
    reserved addresses (a webhook receiver inside the same network, tests). Link-local,
    metadata, multicast and unspecified addresses and the blocked ports stay refused."""
    return bool(settings.SLUICE_EGRESS_ALLOW_PRIVATE)


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why no connection may go to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if address in _IPV4_COMPATIBLE and int(address) > 1:
            return "an IPv4-compatible IPv6 address"
        # 6to4, Teredo and NAT64 carry an IPv4 address that the network may deliver to.
        embedded = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and (
            reason := address_refusal(embedded, allow_private=allow_private)
        ):
            return f"an IPv6 address embedding {reason}"
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local or (
        isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    ):
        return "a link-local or site-local address"
    if address.is_loopback:
        kind = "a loopback address"
    elif address.is_global:
        return None
    else:
        kind = "a private or reserved address"
    return None if allow_private else kind


def _check_host_and_port(host: str, port: int) -> IPAddress | None:
    """The rules that need no name lookup. Returns the address when `host` is a literal one."""
    allow_private = private_targets_allowed()
    if port in BLOCKED_PORTS:
        raise RefusedUrl(f"Port {port} may not be called.")
    name = host.lower().rstrip(".")
    if name in METADATA_HOSTS:
        raise RefusedUrl("The URL's host is a cloud metadata service.")
    if (name == "localhost" or name.endswith(".localhost")) and not allow_private:
        raise RefusedUrl("The URL's host is a loopback name.")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    if reason := address_refusal(address, allow_private=allow_private):
        raise RefusedUrl(f"The URL's host is {reason}.")
    return address


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order: the one name lookup behind an
    outgoing connection. Raises `socket.gaierror` when the name does not resolve."""
    infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def egress_addresses(host: str, port: int) -> list[str]:
    """The addresses a connection to `host` may use: `host` is resolved once and every address
    it resolves to must pass the policy (one internal address refuses the host: a name that
    mixes them is an attack, not a configuration). Raises `RefusedUrl`, or `socket.gaierror`
    when the name does not resolve."""
    literal = _check_host_and_port(host, port)
    if literal is not None:
        return [str(literal)]
    addresses = resolve_host(host, port)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    allow_private = private_targets_allowed()
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise RefusedUrl("The URL's host resolves to an address that cannot be read.") from None
        if reason := address_refusal(address, allow_private=allow_private):
            raise RefusedUrl(f"The URL's host resolves to {reason}.")
    return addresses


def validate_url(url: str, *, resolve: bool = True) -> None:
    """The egress policy: raises `RefusedUrl` for a URL Sluice must not call. Only http(s), with
    a host and no userinfo; not a blocked port; not a metadata service; not a loopback,
    private, link-local, unique-local, multicast, unspecified, reserved or IPv4-mapped address
    (private ones are allowed with `SLUICE_EGRESS_ALLOW_PRIVATE`).

    With `resolve`, a host name is looked up and every address it resolves to is checked: a
    registration is refused at once. A name that does not resolve yet is let through: the
    connection checks again when it is made, which is what protects the request (a name may
    resolve differently then)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port  # `.port` raises for a malformed port
    except ValueError:
        raise RefusedUrl("The URL cannot be parsed.") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise RefusedUrl(f"Only http and https URLs may be called, not {parts.scheme!r}.")
    if "@" in parts.netloc:
        raise RefusedUrl("URLs with credentials (user:password@host) may not be called.")
    if not host:
        raise RefusedUrl("The URL has no host.")
    port = DEFAULT_PORTS[scheme] if port is None else port
    if not resolve:
        _check_host_and_port(host, port)
        return
    ensure_no_transaction("A name lookup for an outgoing URL")
    with contextlib.suppress(socket.gaierror, UnicodeError):
        egress_addresses(host, port)


def checked_timeout(value: Any) -> tuple[float, float]:
    """`value` as (connect, read) seconds, both finite and positive: a request never waits
    forever."""
    parts = value if isinstance(value, tuple) else (value, value)
    if len(parts) != 2 or not all(
        isinstance(p, int | float) and not isinstance(p, bool) and 0 < p < math.inf for p in parts
    ):
        raise ValueError(f"A timeout is (connect, read) seconds, both set; got {value!r}.")
    return float(parts[0]), float(parts[1])


def _connect_checked(
    connection: HTTPConnection, connect: Callable[[], socket.socket]
) -> socket.socket:
    """Opens `connection`'s socket to an address `egress_addresses` allowed, trying each in
    turn. urllib3 connects to `_dns_host`: it points at the checked address only while the
    socket is made, so the Host header, SNI and certificate check keep the host name."""
    host = connection._dns_host
    try:
        addresses = egress_addresses(host, connection.port)
    except socket.gaierror as exc:
        raise NameResolutionError(connection.host, connection, exc) from exc
    last = len(addresses) - 1
    try:
        for number, address in enumerate(addresses):
            connection._dns_host = address
            try:
                return connect()
            except ConnectTimeoutError:  # NewConnectionError too: try the next address
                if number == last:
                    raise
    finally:
        connection._dns_host = host
    raise AssertionError("unreachable: egress_addresses returns at least one address")


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _connect_checked(self, super()._new_conn)


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _connect_checked(self, super()._new_conn)


class _CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class EgressAdapter(HTTPAdapter):
    """An `HTTPAdapter` whose connections apply the egress policy when they connect (see
    `_connect_checked`). Only the pools change: `send` is `HTTPAdapter`'s, so the `responses`
    library, which replaces `HTTPAdapter.send`, still stubs every request in tests (no lookup,
    no connection is made then)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }


class OutgoingSession(requests.Session):
    """A `requests.Session` that applies the module's rules to every request it sends.

    `role` names the caller in errors and in the default User-Agent; `timeout` applies to a
    request that passes none. Keep-alive connections are pooled (urllib3's pool is
    thread-safe); retries are the caller's business, never urllib3's."""

    def __init__(
        self,
        *,
        role: str,
        timeout: Timeout,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        pool_connections: int = 10,
        pool_maxsize: int = 10,
    ) -> None:
        super().__init__()
        self.role = role
        self.timeout = checked_timeout(timeout)
        self.trust_env = False
        adapter = EgressAdapter(
            pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=0
        )
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.headers["User-Agent"] = user_agent or f"sluice-{role}"
        if headers:
            self.headers.update(headers)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # Every request, whether from `request()` or a prepared one, ends up here. The address
        # rules that need a lookup are applied by the connection itself (EgressAdapter).
        validate_url(request.url or "", resolve=False)
        ensure_no_transaction(f"An outgoing {self.role} HTTP request")
        kwargs["allow_redirects"] = False
        kwargs["proxies"] = {}  # a proxy would connect on our behalf, past the address rules
        timeout = kwargs.get("timeout")
        kwargs["timeout"] = self.timeout if timeout is None else checked_timeout(timeout)
        return super().send(request, **kwargs)
