from django_project.env import cache_settings, client_settings, env_str

CLIENT = {
    **client_settings(
        "SALESFORCE", base_url="http://127.0.0.1:3001", read_timeout=2.0, batch_size=200
    ),
    "client_id": env_str("SALESFORCE_CLIENT_ID"),
    "client_secret": env_str("SALESFORCE_CLIENT_SECRET"),
    "api_version": env_str("SALESFORCE_API_VERSION", "v62.0"),
    "parcel_field": env_str("SALESFORCE_PARCEL_FIELD", "Parcel_ID__c"),
}

# Freshness: CRM data: minutes.
CACHE = cache_settings("SALESFORCE", ttl=300, negative_ttl=60, stale_ttl=86400)

#: Variables production must set (`PRODUCTION=1` refuses to start without them).
REQUIRED = ("SALESFORCE_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET")
