"""MkDocs hook: write the OpenAPI document the API serves, so docs/reference.md renders it.

The document is asked of the real API app (`GET /api/openapi.json` through its test client) on a
throwaway SQLite database with the built-in tools synced: the reference on the site is what a
fresh install serves, never a copy typed by hand.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

OUTPUT = Path(".cache/openapi.json")  # read by [OAD(...)] in docs/reference.md; not committed


def on_pre_build(config) -> None:
    checkout = Path(config["config_file_path"]).parent
    sys.path.insert(0, str(checkout))  # the hook runs from mkdocs, not from the checkout's path
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/docs.sqlite"
        os.environ.setdefault("SECRET_KEY", "docs-build")
        from flask_migrate import upgrade

        from dashboard import create_wsgi_app
        from dashboard.extensions import db
        from dashboard.models import Tool
        from dashboard.tools.sync import sync_tools

        app = create_wsgi_app()
        with app.app_context():
            upgrade(directory=str(checkout / "migrations"))
            sync_tools(db.session, Tool)
            db.session.commit()
            answer = app.test_client().get("/api/openapi.json")
            db.engine.dispose()
    if answer.status_code != 200:
        raise RuntimeError(f"GET /api/openapi.json answered {answer.status_code}")
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(json.dumps(answer.get_json(), indent=2))
