from django_project.env import cache_settings, client_settings, env_float, env_str

CLIENT = {
    **client_settings(
        "GEOCODER", base_url="http://127.0.0.1:3003", read_timeout=2.0, batch_size=1000
    ),
    "benchmark": env_str("GEOCODER_BENCHMARK", "Public_AR_Current"),
    "batch_read_timeout": env_float("GEOCODER_BATCH_READ_TIMEOUT", 10.0, minimum=0.1),
}

# Freshness: addresses do not move: a day.
CACHE = cache_settings("GEOCODER", ttl=86400, negative_ttl=3600, stale_ttl=2592000)

#: Variables production must set (`PRODUCTION=1` refuses to start without them).
REQUIRED = ("GEOCODER_URL",)
