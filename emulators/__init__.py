"""Local emulators of the external systems, for the demo, integration tests and benchmarks.

Each is an ASGI app: serve it in-process with `httpx.ASGITransport(app=...)` or on loopback
with uvicorn (`python manage.py emulators`). `build_emulators()` makes all four from settings,
with the demo credentials the clients are configured with.
"""
