"""The HTTP API (FastAPI): thin routes over the services, under /v1."""
