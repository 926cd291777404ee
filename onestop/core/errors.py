"""Error pages in the user's language; no stack traces or internals leave the server."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from onestop.extensions import db


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[str, int]:
        message = _("This page has expired or the request did not come from this site. "
                    "Please go back, reload the page and try again; nothing was saved.")
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        messages = {
            403: _("You do not have access to this page."),
            404: _("This page does not exist, or you do not have access to it."),
            405: _("This request is not allowed here."),
            413: _("The upload is too large."),
            429: _("Too many requests. Please wait a moment and try again."),
        }
        return render_template("errors/error.html", code=code,
                               message=messages.get(code, _("The request could not be handled."))), code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        db.session.rollback()
        app.logger.exception("unhandled error")
        message = _("Something went wrong on our side. Nothing was half-saved; please try again.")
        return render_template("errors/error.html", code=500, message=message), 500
