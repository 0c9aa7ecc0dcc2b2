"""HTTP shell: the decision and outcome API (FastAPI)."""

from nextbest.api.app import create_app

__all__ = ["create_app"]
