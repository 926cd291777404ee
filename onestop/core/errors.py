"""Error pages in the user's language; no stack traces or internals leave the server."""

from __future__ import annotations

from typing import Any

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

    from onestop.api import errors as api_errors

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        if api_errors.is_api_request():
            return api_errors.http_error(error)  # machines get the JSON envelope, with stable codes
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
    def _unexpected(error: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("unhandled error")
        if api_errors.is_api_request():
            return api_errors.unexpected_error()
        message = _("Something went wrong on our side. Nothing was half-saved; please try again.")
        return render_template("errors/error.html", code=500, message=message), 500
