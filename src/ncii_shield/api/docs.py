"""``/docs``: Swagger UI from our own origin, so the API docs work offline and under the strict CSP.

FastAPI's default page loads Swagger UI from a CDN and starts it with an inline script: blank on a
machine without Internet access, and only possible with the CSP switched off. Here the assets come
from the ``swagger-ui-bundle-v2`` package (Swagger UI's own dist files, served like every other
static file, with the same security headers) and the page starts Swagger UI from a script file.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"

# Swagger UI's own settings as FastAPI sets them (fastapi.openapi.docs.swagger_ui_default_parameters)
INIT_JS = """\
"use strict";
window.ui = SwaggerUIBundle({
  url: document.currentScript.dataset.openapi,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API docs</title>
<link rel="icon" type="image/png" href="{root}{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{root}{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{root}{assets}/swagger-ui-bundle.js"></script>
<script src="{root}/docs/init.js" data-openapi="{root}{openapi}"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve Swagger UI at /docs from the packaged assets; /redoc (a CDN page too) points there.
    Create the app with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are not added."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = escape(request.scope.get("root_path", "").rstrip("/"))
        return HTMLResponse(PAGE.format(title=escape(app.title), root=root, assets=ASSETS,
                                        openapi=escape(app.openapi_url or "/openapi.json")))

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(INIT_JS, media_type="text/javascript")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> RedirectResponse:
        return RedirectResponse(request.scope.get("root_path", "").rstrip("/") + "/docs")
