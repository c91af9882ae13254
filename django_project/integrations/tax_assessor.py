from django_project.env import cache_settings, client_settings, env_str

CLIENT = {
    **client_settings(
        "TAX_ASSESSOR", base_url="http://127.0.0.1:3002", read_timeout=2.0, batch_size=100
    ),
    "dataset": env_str("TAX_ASSESSOR_DATASET", "uzyt-m557"),
    "app_token": env_str("TAX_ASSESSOR_APP_TOKEN"),
}

# Freshness: assessments change yearly: hours.
CACHE = cache_settings("TAX_ASSESSOR", ttl=21600, negative_ttl=3600, stale_ttl=604800)

#: Variables production must set (`PRODUCTION=1` refuses to start without them).
REQUIRED = ("TAX_ASSESSOR_URL",)
