"""In CI the suite must really run on PostgreSQL and Redis, not fall back to the defaults."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection


@pytest.mark.skipif(not os.environ.get("CI"), reason="CI pins the production backends")
@pytest.mark.django_db
def test_ci_runs_on_postgresql_and_redis():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)

    assert connection.vendor == "postgresql"
    assert settings.CACHE_CONFIG["backend"] == "redis"
