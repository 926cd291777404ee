"""Language: Simplified Chinese by default, English on request (?lang=en, remembered in a cookie)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, Response, g, request
from flask_babel import refresh

SUPPORTED = {"zh": "zh_Hans_CN", "en": "en"}
COOKIE = "onestop_lang"


def current_lang() -> str:
    """'zh' or 'en': picks the Chinese or English text of catalog data."""
    lang = getattr(g, "lang", None) if g else None
    if lang:
        return str(lang)
    chosen = request.args.get("lang") or request.cookies.get(COOKIE) or "zh"
    return chosen if chosen in SUPPORTED else "zh"


def select_locale() -> str:
    return SUPPORTED[current_lang()]


def init_app(app: Flask) -> None:
    @app.before_request
    def _pick_lang() -> None:
        # Flask-Babel caches the locale on the context; a context shared by several requests (tests,
        # CLI-driven rendering) must not keep the previous request's language.
        refresh()
        g.lang = None
        g.lang = current_lang()

    @app.after_request
    def _remember(response: Response) -> Response:
        chosen = request.args.get("lang")
        if chosen in SUPPORTED:
            response.set_cookie(COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True)
        return response

    @app.context_processor
    def _inject() -> dict[str, object]:
        return {"lang": current_lang(), "html_lang": "en" if current_lang() == "en" else "zh-CN",
                "switch_lang_url": switch_lang_url}


def switch_lang_url(lang: str) -> str:
    """This page, with every query argument kept, in the other language."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [lang]
    return request.path + "?" + urlencode(args, doseq=True)
