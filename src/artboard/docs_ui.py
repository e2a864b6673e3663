"""The interactive API docs, served entirely by Artboard so they work on a host without internet.

FastAPI's own `/docs` and `/redoc` load Swagger UI, ReDoc and ReDoc's fonts from CDNs, so on an offline host
they stay blank. The same pages are rendered here with the assets of the pinned `fastapi-offline` package
(Swagger UI 5, which reads OpenAPI 3.1, and ReDoc 2), served under ``ASSETS``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
DOCS, REDOC = "/docs", "/redoc"
# The pages' own inline scripts may run; nothing may come from another host. ReDoc's side menu shows a logo
# from its vendor's CDN that no option turns off: the browser refuses it (and ReDoc hides the broken image).
# Swagger UI's validator badge, were its layout to show one, is refused the same way.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:"
)


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` (with its OAuth2 redirect page, for the Authorize button) and `/redoc` from local assets.

    Create the app with ``docs_url=None, redoc_url=None`` so FastAPI's CDN-backed pages are not registered.
    """
    assert app.openapi_url and app.swagger_ui_oauth2_redirect_url
    openapi_url, redirect_url = app.openapi_url, app.swagger_ui_oauth2_redirect_url
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=root + redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        return _self_contained(page)

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return _self_contained(get_swagger_ui_oauth2_redirect_html())

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        return _self_contained(page)

    app.add_route(DOCS, swagger_ui, include_in_schema=False)
    app.add_route(redirect_url, oauth2_redirect, include_in_schema=False)
    app.add_route(REDOC, redoc, include_in_schema=False)


def _self_contained(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
