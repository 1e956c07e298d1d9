"""The FastAPI front end (public names in :mod:`logto_guard.fastapi`)."""
