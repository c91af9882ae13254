"""django_project/integrations/toy.py: the toy system's settings."""

CLIENT = {"base_url": "http://toy.emulator", "batch_size": 7, "api_key": "toy-key"}
CACHE = {"ttl": 60, "negative_ttl": 60, "stale_ttl": 3600}
REQUIRED = ("TOY_URL",)
