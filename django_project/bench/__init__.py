"""`manage.py bench`: the product measured against its floors, a plain view and a naive
baseline (its own app so that the domain app stays free of load generators)."""
