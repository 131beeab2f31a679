"""The error family of the Socket API and the interfaces.

Every error is a :class:`NetworkError`, itself an :class:`OSError` carrying the matching
``errno``, so stdlib code that catches ``OSError``, ``TimeoutError`` or
``BlockingIOError`` keeps working. ``nsapi_code`` is the embedded API's error value.
"""

from __future__ import annotations

import errno as _errno


class NetworkError(OSError):
    """Base of all netstack errors."""

    errno_value: int = _errno.EIO
    nsapi_code: int = -3012

    def __init__(self, message: str = "") -> None:
        super().__init__(self.errno_value, message or type(self).__doc__ or type(self).__name__)

    def __str__(self) -> str:
        return str(self.strerror)


class WouldBlockError(NetworkError, BlockingIOError):
    """Operation would block (no data, or the socket timeout expired)."""

    errno_value = _errno.EAGAIN
    nsapi_code = -3001


class UnsupportedError(NetworkError):
    """Feature not supported."""

    errno_value = _errno.EOPNOTSUPP
    nsapi_code = -3002


class ParameterError(NetworkError, ValueError):
    """Invalid argument or configuration."""

    errno_value = _errno.EINVAL
    nsapi_code = -3003


class NoConnectionError(NetworkError, ConnectionError):
    """Not connected to a network or to a peer."""

    errno_value = _errno.ENOTCONN
    nsapi_code = -3004


class NoSocketError(NetworkError):
    """Socket not open, or none available."""

    errno_value = _errno.EBADF
    nsapi_code = -3005


class NoAddressError(NetworkError):
    """IP address unknown: no peer, no local address, or no route."""

    errno_value = _errno.EDESTADDRREQ
    nsapi_code = -3006


class NoMemoryError(NetworkError):
    """Buffer or table limit reached."""

    errno_value = _errno.ENOBUFS
    nsapi_code = -3007


class DnsFailureError(NetworkError):
    """Name resolution failed."""

    errno_value = _errno.EHOSTUNREACH
    nsapi_code = -3009


class DhcpFailureError(NetworkError):
    """DHCP did not complete."""

    errno_value = _errno.ETIMEDOUT
    nsapi_code = -3010


class AuthFailureError(NetworkError, PermissionError):
    """Authentication failed."""

    errno_value = _errno.EACCES
    nsapi_code = -3011


class DeviceError(NetworkError):
    """Failure talking to the network device."""

    errno_value = _errno.EIO
    nsapi_code = -3012


class InProgressError(NetworkError):
    """Operation started, not finished."""

    errno_value = _errno.EINPROGRESS
    nsapi_code = -3013


class AlreadyError(NetworkError):
    """Operation already in progress."""

    errno_value = _errno.EALREADY
    nsapi_code = -3014


class IsConnectedError(NetworkError):
    """Already connected."""

    errno_value = _errno.EISCONN
    nsapi_code = -3015


class ConnectionLostError(NetworkError, ConnectionResetError):
    """Connection lost (reset by the peer or the link)."""

    errno_value = _errno.ECONNRESET
    nsapi_code = -3016


class ConnectionRefused(NetworkError, ConnectionRefusedError):
    """Connection refused by the peer."""

    errno_value = _errno.ECONNREFUSED
    nsapi_code = -3004


class ConnectionTimeoutError(NetworkError, TimeoutError):
    """Connection attempt timed out."""

    errno_value = _errno.ETIMEDOUT
    nsapi_code = -3017


class HostUnreachableError(NetworkError, ConnectionError):
    """No route to host: the network reported the peer unreachable."""

    errno_value = _errno.EHOSTUNREACH
    nsapi_code = -3004


class AddressInUseError(NetworkError):
    """Address (or port) already in use."""

    errno_value = _errno.EADDRINUSE
    nsapi_code = -3018


class NetworkTimeoutError(NetworkError, TimeoutError):
    """Operation timed out."""

    errno_value = _errno.ETIMEDOUT
    nsapi_code = -3019


class BusyError(NetworkError):
    """Device busy: cannot accept a new operation now."""

    errno_value = _errno.EBUSY
    nsapi_code = -3020


class MessageTooLongError(NetworkError):
    """Datagram larger than the stack can send."""

    errno_value = _errno.EMSGSIZE
    nsapi_code = -3003
