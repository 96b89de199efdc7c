"""Jinja2 templates of every folder, with gettext, the user, CSRF and time helpers.

`render(request, "page.html", ctx)` renders a page; `render(..., block="name")`
renders one named block of it alone (the htmx fragment of that page).

One rule for htmx fragments: a part of a page is a named block of that page's template,
rendered alone for htmx. Only a fragment that no page renders in place, one that exists
only as htmx loads it (the bell's count, the layout editor's side panel), is a template
of its own, named `_name.html`.
"""

from __future__ import annotations

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from signage import i18n
from signage.folders import asset_dirs
from signage.settings import ROLE_LABELS

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader([str(folder) for _package, folder in asset_dirs("templates")]),
    autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
env.filters["datetime"] = i18n.format_datetime
env.filters["date"] = i18n.format_date
env.filters["size"] = i18n.format_size
env.filters["translate"] = i18n.gettext  # text stored in English (a job's error), shown in the reader's language
env.globals["LOCALE_NAMES"] = i18n.LOCALE_NAMES
env.globals["ROLE_LABELS"] = ROLE_LABELS
env.globals["HTMX"] = "/static/signage/vendor/htmx-2.0.11.min.js"


def context(request: Request, extra: dict) -> dict:
    from signage.auth import csrf_token

    user = getattr(request.state, "user", None)
    return {
        "request": request,
        "user": user,
        "locale": i18n.current_locale.get(),
        "csrf_token": csrf_token(request) if "session" in request.scope else "",
        **extra,
    }


def render(
    request: Request, name: str, extra: dict | None = None, status_code: int = 200, block: str | None = None
) -> HTMLResponse:
    template = env.get_template(name)
    ctx = context(request, extra or {})
    if block:
        html = "".join(template.blocks[block](template.new_context(ctx)))
    else:
        html = template.render(ctx)
    return HTMLResponse(html, status_code=status_code)


def render_string(name: str, ctx: dict) -> str:
    return env.get_template(name).render(ctx)
