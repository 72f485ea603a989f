"""What the server's browser pages (the dashboard, /1.2/docs) may do, and the headers that say
so on every answer: a page runs only scripts and styles from this server, talks only to it, and
may not be framed (clickjacking) by any site, this one included."""

from __future__ import annotations

from importlib.resources.abc import Traversable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chargegate.api import errors

# For the HTML pages. `data:` images: Swagger UI's icons are inline SVG in its stylesheet.
PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
# For every other answer (JSON, scripts, styles): nothing to run, nothing to frame.
DEFAULT_POLICY = "default-src 'none'; frame-ancestors 'none'"
PAGE_HEADERS = {"Content-Security-Policy": PAGE_POLICY}
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    # For browsers that predate frame-ancestors.
    (b"x-frame-options", b"DENY"),
)
_CSP = b"content-security-policy"


class BrowserHeaders:
    """Adds the headers above to every HTTP answer; a page's own policy (PAGE_HEADERS) wins."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _ALWAYS if name not in present]
                if _CSP not in present:
                    headers.append((_CSP, DEFAULT_POLICY.encode()))
                message["headers"] = headers
            await send(message)

        await self._app(scope, receive, send_with_headers)


class Assets:
    """The scripts, styles and images of a page, served by name; a name that is not listed is
    404, so a path never reaches the file system."""

    def __init__(self, files: dict[str, tuple[Traversable, str]]) -> None:
        self._files = files
        self._read: dict[str, bytes] = {}

    def response(self, name: str) -> Response:
        if name not in self._files:
            return errors.message(404, f"No such file: {name}")
        file, media_type = self._files[name]
        if name not in self._read:
            self._read[name] = file.read_bytes()
        return Response(
            self._read[name], media_type=media_type, headers={"Cache-Control": "no-cache"}
        )
