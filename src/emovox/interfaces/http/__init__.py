"""emovox over HTTP: :func:`create_app` builds the FastAPI app that ``emovox serve`` runs."""

from emovox.interfaces.http.app import Settings, create_app

__all__ = ["Settings", "create_app"]
