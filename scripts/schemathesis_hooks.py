"""Schemathesis hooks for scripts/schemathesis.sh.

Keeps every request on this machine: a tcp-active GB28181 receiver makes the server dial the
device address in the body, so a device address the server would accept is pointed at
127.0.0.1 (same port). Bodies the server rejects anyway are left as generated, so checks on
rejected input still see exactly what was generated.
"""
import re

import schemathesis

# The server's rule for "host:port" (openapi.yaml ReceiverOpen.device).
DEVICE = re.compile(
    r"^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):"
    r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"
)
LOOPBACK = ("127.0.0.1", "[::1]", "localhost")


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.method.upper() != "POST" or not case.path.endswith("/gb28181/receivers"):
        return
    body = case.body
    if isinstance(body, dict):
        device = body.get("device")
        if isinstance(device, str) and DEVICE.match(device):
            host, _, port = device.rpartition(":")
            if host not in LOOPBACK:
                body["device"] = "127.0.0.1:" + port
    elif isinstance(body, (str, bytes)) and b"tcp-active" in (body if isinstance(body, bytes) else body.encode()):
        case.body = {}
