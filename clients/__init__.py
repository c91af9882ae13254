"""One async client per external system. No Django, no strawberry: configuration comes in.

Each client takes a frozen config dataclass and an injected `httpx.AsyncClient`, so the same
class runs against the real service, an emulator (`httpx.ASGITransport`) or respx.
"""
