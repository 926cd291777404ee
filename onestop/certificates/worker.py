"""An rq worker that builds the app and loads WeasyPrint and the CJK fonts once, before forking.

rq forks a work horse for every job; without this each horse would build the app and load the fonts and
their character maps again (1-2 s), which dwarfs sealing a certificate (~0.1 s). Forked horses inherit
them. `make worker` uses it:  rq worker --worker-class onestop.certificates.worker.PreloadingWorker
"""

from __future__ import annotations

from typing import Any

from rq import Worker


class PreloadingWorker(Worker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from onestop import create_app
        from onestop.certificates.rendering import warm_up
        from onestop.core import jobs
        from onestop.extensions import db

        if jobs._worker_app is None:
            jobs._worker_app = create_app()
        app = jobs._worker_app
        with app.app_context():
            warm_up()
            for name in app.jinja_env.list_templates(filter_func=lambda n: n.startswith("certificates/print/")):
                app.jinja_env.get_template(name)  # compiled once, here
            db.engine.dispose()  # database connections must not be shared with the forked horses
