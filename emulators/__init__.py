"""Local emulators of the external systems, for the demo, integration tests and benchmarks.

Each is an ASGI app: serve it in-process with `httpx.ASGITransport(app=...)` or on loopback
with uvicorn (`python manage.py emulators`). `<Emulator>.for_client(settings)` makes one that
accepts the credentials a client is configured with; `registry.emulator_class(name)` finds a
system's emulator by its name.
"""
