"""What every provider webhook shares: the shared-secret check and plain-text answers."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, abort, request

from gateway import runtime


def protected(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse (403, nothing recorded) a callback without the WEBHOOK_TOKEN, when one is set."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        expected = runtime.current().settings.webhook_token
        if expected and not hmac.compare_digest(request.args.get("token", "").encode(), expected.encode()):
            abort(403, description="wrong or missing webhook token")
        return view(*args, **kwargs)

    return wrapper


def plain(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="text/plain")
