"""dspy_ash.api: the HTTP service. REST under /api/v1 is derived from `dspy_ash.actions.REGISTRY`.

app = create_app()            # DSPY_ASH_DATABASE_URL, else SQLite in the data directory
uvicorn.run(app)
"""

from dspy_ash.api._app import API_PREFIX, create_app
from dspy_ash.api._problems import PROBLEMS, TYPE_PREFIX, Problem

__all__ = ["API_PREFIX", "PROBLEMS", "TYPE_PREFIX", "Problem", "create_app"]
