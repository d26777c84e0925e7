"""Routes of the web UI: / and /ui redirect to /ui/, which serves index.html; /ui/static/ the
ES modules and CSS shipped as package data. The UI reads data only through the public API, so
these handlers serve files and never touch the store."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from kate.collector.middleware import Handler

STATIC_DIR = Path(__file__).parent / "static"
# Same-origin only: no inline script, no CDN, no network beyond the collector itself.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def add_ui_routes(app: web.Application) -> None:
    app.router.add_get("/", _to_ui)
    app.router.add_get("/ui", _to_ui)
    app.router.add_get("/ui/", index)
    app.router.add_static("/ui/static/", STATIC_DIR, append_version=False)
    app.middlewares.append(_security_headers)


async def _to_ui(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ui/")


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith("/ui/"):
        response.headers.update(_HEADERS)
    return response
