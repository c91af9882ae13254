from django_project.env import cache_settings, client_settings, env_str

CLIENT = {
    **client_settings(
        "FILEMAKER", base_url="http://127.0.0.1:3000", read_timeout=2.0, batch_size=100
    ),
    "database": env_str("FILEMAKER_DATABASE"),
    "username": env_str("FILEMAKER_USER"),
    "password": env_str("FILEMAKER_PASSWORD"),
    "layout": env_str("FILEMAKER_LAYOUT", "Listings"),
}

# Freshness: listings change often: minutes.
CACHE = cache_settings("FILEMAKER", ttl=120, negative_ttl=60, stale_ttl=86400)

#: Variables production must set (`PRODUCTION=1` refuses to start without them).
REQUIRED = ("FILEMAKER_URL", "FILEMAKER_DATABASE", "FILEMAKER_USER", "FILEMAKER_PASSWORD")
