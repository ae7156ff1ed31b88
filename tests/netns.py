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
    if shutil.which("unshare") is None:  # installable: on CI a failure
        if os.environ.get("CI"):
            pytest.fail("unshare (util-linux) is not installed")
        pytest.skip("unshare (util-linux) is not installed")
    if os.geteuid() != 0:
        pytest.skip("a network namespace needs root (unshare -n)")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine allows no network namespace (unshare -n: no CAP_SYS_ADMIN): "
                    "the network tests need one of their own")
    return ["unshare", "-n", "--"]


def loopback_up() -> None:
    """Bring up lo (with multicast) in this process's namespace, without the ip tool."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, ifr)[:18])[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP | IFF_MULTICAST))


def interfaces() -> list[str]:
    return [name for _, name in socket.if_nameindex()]
