"""The HTML of the integration details: templates, their filters, and page responses.

Server-rendered with Jinja2: every value escaped, no scripts, styles inline, so the page
can be served with a strict Content-Security-Policy and framed by Airflow's UI.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from wonde_sync.core import sync_history, vocabulary
from wonde_sync.monitoring.views import by_record_type
from wonde_sync.web.links import Links

TEMPLATES = Path(__file__).resolve().parent / "templates"

# No scripts at all; styles are inline in the page; Airflow's UI may frame it (same origin).
HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def environment() -> jinja2.Environment:
    """The templates, escaping everything, with the filters they use."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=_when,
        age=vocabulary.describe_age,
        reason=vocabulary.reason_label,
        short_reason=vocabulary.short_reason_label,
        record_type=vocabulary.record_type_label,
        by_record_type=by_record_type,
        kind=sync_history.kind_label,
        duration=sync_history.duration_label,
        window=sync_history.window_label,
        run_type=sync_history.run_type_label,
    )
    return env


def render_page(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
    """A page of the app's templates, with the links of the request and the HTML headers."""
    env: jinja2.Environment = request.app.state.templates
    body = env.get_template(template).render(links=Links(request), **context)
    return HTMLResponse(body, status_code=code, headers=HTML_HEADERS)
