"""Settings of each external system, one module per system (its URL, credentials, limits).

Defaults point at the local emulators on loopback, so the demo needs no credentials; each
system's variables are listed in README.md and .env.example.
"""
