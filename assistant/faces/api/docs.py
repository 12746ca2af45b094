"""The API's ``/docs`` page, served entirely from this server: Swagger UI's JavaScript and CSS
come from the installed ``fastapi-offline`` package (Swagger UI 5, which reads the OpenAPI
3.1 schema FastAPI writes) instead of a CDN, so the page works offline and behind firewalls.
FastAPI's documented self-hosting recipe: ``get_swagger_ui_html`` and a StaticFiles mount."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from assistant import ConfigError

STATIC_URL = "/docs-static"


def _static_dir() -> Path:
    # located, not imported: only its static folder is used
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise ConfigError(
            "the API docs need the package fastapi-offline (pip install fastapi-offline)"
        )
    return Path(spec.origin).parent / "static"


def mount_docs(app: FastAPI, docs_url: str = "/docs") -> None:
    """Serve Swagger UI at ``docs_url`` for ``app`` (created with ``docs_url=None``)."""
    app.mount(STATIC_URL, StaticFiles(directory=_static_dir()), name="docs-static")
    redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API docs",
            oauth2_redirect_url=f"{root}{redirect}",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
        )

    @app.get(redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
