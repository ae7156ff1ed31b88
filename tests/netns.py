"""Network tests run only inside a network namespace of their own: a private loopback, no other interface.

``private_network_argv()`` prefixes a command so that it runs in a fresh namespace (``unshare -n``, as
root); ``loopback_up()`` is called first thing inside it. Link's peers find each other there by multicast on
the loopback and reach nothing else. JACK still works inside: its sockets are files, not network."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import struct
import subprocess

import pytest

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP, IFF_MULTICAST = 0x8913, 0x8914, 0x1, 0x1000


def private_network_argv() -> list[str]:
    """The prefix that runs a command in a network namespace of its own, or a skip (a failure on CI)."""
    reason = None
    if shutil.which("unshare") is None:
        reason = "unshare (util-linux) is not installed"
    elif os.geteuid() != 0:
        reason = "a network namespace needs root (unshare -n)"
    elif subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        reason = "unshare -n is not allowed here"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return ["unshare", "-n", "--"]


def loopback_up() -> None:
    """Bring up lo (with multicast) in this process's namespace, without the ip tool."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, ifr)[:18])[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP | IFF_MULTICAST))


def interfaces() -> list[str]:
    return [name for _, name in socket.if_nameindex()]
