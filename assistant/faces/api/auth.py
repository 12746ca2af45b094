"""Who may do what on the HTTP API, and where it may listen without a token.

Two bearer tokens, from the environment only:

- ``ASSISTANT_API_TOKEN``, the read side: ask, chat, feedback, read articles and figures;
- ``ASSISTANT_API_ADMIN_TOKEN``, when set, the only credential that adds or deletes articles
  (the read token gets 403 there); it reads too. Unset, the read token does everything.

Without ``ASSISTANT_API_TOKEN`` the read side is open, which is allowed on a loopback address
only: ``assistant serve`` refuses to listen beyond loopback without it unless
``ASSISTANT_API_ALLOW_OPEN=true`` says so on purpose.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from assistant import ConfigError, Settings

log = logging.getLogger(__name__)

READ = HTTPBearer(
    scheme_name="readToken",
    auto_error=False,
    description="ASSISTANT_API_TOKEN: ask, chat, feedback, read articles and stats (the admin "
    "token is accepted too). Not required when the server runs without one (loopback only).",
)
ADMIN = HTTPBearer(
    scheme_name="adminToken",
    auto_error=False,
    description="ASSISTANT_API_ADMIN_TOKEN: add and delete articles; when it is set, the read "
    "token gets 403 on these endpoints (when it is not, the read token may).",
)
WRITE_NEEDS_ADMIN = (
    "this token may ask and read; adding and deleting articles takes ASSISTANT_API_ADMIN_TOKEN"
)


def _given(creds: HTTPAuthorizationCredentials | None) -> str:
    return creds.credentials if creds else ""


def _matches(given: str, token: SecretStr | None) -> bool:
    # constant-time: the comparison must not leak how much of a guess was right
    return token is not None and secrets.compare_digest(
        given.encode(), token.get_secret_value().encode()
    )


def _unauthorized() -> HTTPException:
    return HTTPException(
        401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
    )


def read_access(
    request: Request,
    read: HTTPAuthorizationCredentials | None = Depends(READ),
    admin: HTTPAuthorizationCredentials | None = Depends(ADMIN),
) -> None:
    """The read side: the read token or the admin token (open when no read token is set)."""
    settings: Settings = request.app.state.settings
    if settings.api_token is None:
        return
    given = _given(read or admin)
    if not (_matches(given, settings.api_token) or _matches(given, settings.api_admin_token)):
        raise _unauthorized()


def admin_access(
    request: Request, admin: HTTPAuthorizationCredentials | None = Depends(ADMIN)
) -> None:
    """The write side: the admin token when one is set, else whatever the read side takes."""
    settings: Settings = request.app.state.settings
    if settings.api_admin_token is None:
        read_access(request, admin, None)
        return
    given = _given(admin)
    if _matches(given, settings.api_admin_token):
        return
    if _matches(given, settings.api_token):
        raise HTTPException(403, WRITE_NEEDS_ADMIN)
    raise _unauthorized()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def check_exposure(settings: Settings, host: str) -> None:
    """Refuse to serve beyond loopback what anyone there could use without a token: the
    API's read side without ASSISTANT_API_TOKEN, or the web UI (``--ui``, which has no
    login and can upload and delete), unless ``api_allow_open`` says so on purpose."""
    if is_loopback(host):
        return
    if settings.api_allow_open:
        if settings.api_token is None or settings.api_admin_token is None:
            log.warning("serving on %s with ASSISTANT_API_ALLOW_OPEN: parts need no token", host)
        return
    if settings.api_token is None:
        writes = "" if settings.api_admin_token else ", add and delete articles"
        raise ConfigError(
            f"refusing to serve the API on {host} without ASSISTANT_API_TOKEN: anyone who can "
            f"reach it could ask questions{writes}. Set ASSISTANT_API_TOKEN (the read side), "
            "and ASSISTANT_API_ADMIN_TOKEN for adding and deleting articles; or set "
            "ASSISTANT_API_ALLOW_OPEN=true to serve it without a token on purpose (or serve "
            "on 127.0.0.1)"
        )
    if settings.api_mount_ui:
        raise ConfigError(
            f"refusing to serve the web UI (--ui) on {host}: it has no login and can add and "
            "delete articles. Serve it on 127.0.0.1 behind your own proxy, drop --ui, or set "
            "ASSISTANT_API_ALLOW_OPEN=true to serve it open on purpose"
        )
