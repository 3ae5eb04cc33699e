"""Security headers on every answer of the capture app (issue 17, hospital IT review).

One pure ASGI middleware (no per-request task switch, unlike Starlette's ``BaseHTTPMiddleware``)
adds, unless the route set them already:

``Content-Security-Policy``
    :data:`CONTENT_SECURITY_POLICY`: scripts, styles, images and form targets from the app's own
    origin only, no inline script or style (the templates have none), no plugins, never framed;
``X-Frame-Options: DENY``
    the same anti-framing for older browsers;
``X-Content-Type-Options: nosniff``
    a file is what its type says;
``Referrer-Policy: no-referrer``
    a diary link carries the patient's token in its path: no page ever sends its address on;
``Cache-Control: no-store``
    on every answer but ``/static/``: pages and API answers hold patient data, which must not
    stay in a shared or back-button cache.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["CONTENT_SECURITY_POLICY", "SecurityHeaders"]

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
"""The pages' Content-Security-Policy (see the module docstring)."""

_ALWAYS = ((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()), (b"x-frame-options", b"DENY"),
           (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware adding the headers of the module docstring to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = list(_ALWAYS)
        if not str(scope.get("path", "")).startswith("/static/"):
            wanted.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in wanted if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
