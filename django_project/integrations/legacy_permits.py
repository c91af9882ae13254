from pathlib import Path

from django_project.env import cache_settings, core_settings, env_float, env_int, env_str

#: The demo's stand-in: a SQLite file `manage.py seed_legacy_permits` writes, read-only here.
DEMO_DATABASE = Path(__file__).resolve().parents[2] / "legacy_permits.sqlite3"

CLIENT = {
    **core_settings("LEGACY_PERMITS", read_timeout=2.0, batch_size=500),
    # SQLAlchemy URL of the read-only user: mysql+aiomysql://permits_ro:...@host:3306/permits
    "url": env_str(
        "LEGACY_PERMITS_URL", f"sqlite+aiosqlite:///file:{DEMO_DATABASE}?mode=ro&uri=true"
    ),
    # Seconds a statement (or a wait for a lock) may take on the server.
    "statement_timeout": env_float("LEGACY_PERMITS_STATEMENT_TIMEOUT", 2.0, minimum=0.01),
    # Connections in the pool (the system's bulkhead); the DBA counts them.
    "max_connections": env_int("LEGACY_PERMITS_MAX_CONNECTIONS", 5, minimum=1),
    "permits_view": env_str("LEGACY_PERMITS_PERMITS_VIEW", "V_PERMITS"),
    "violations_view": env_str("LEGACY_PERMITS_VIOLATIONS_VIEW", "V_VIOLATIONS"),
}

# Freshness: permits change when the department works them: an hour.
CACHE = cache_settings("LEGACY_PERMITS", ttl=3600, negative_ttl=3600, stale_ttl=604800)

#: Variables production must set (`PRODUCTION=1` refuses to start without them).
REQUIRED = ("LEGACY_PERMITS_URL",)
