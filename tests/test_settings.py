"""Settings come from the environment and refuse bad values with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_project.settings import parse_cache_url


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "CACHE_URL"}}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django_project.settings as s; print(s.DEBUG, s.DATABASES['default']['ENGINE'])",
        ],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_secret_key_is_required_when_debug_is_off():
    result = load_settings(DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_debug_gets_a_development_secret_key():
    result = load_settings(DEBUG="1")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("True")


def test_database_url_selects_postgresql():
    result = load_settings(DEBUG="1", DATABASE_URL="postgres://u@127.0.0.1:5432/x")

    assert result.stdout.split() == ["True", "django.db.backends.postgresql"]


def test_bad_boolean_is_refused():
    result = load_settings(DEBUG="maybe")

    assert "DEBUG must be a boolean" in result.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("memory://", {"backend": "memory"}),
        (
            "redis://127.0.0.1:6380/2",
            {
                "backend": "redis",
                "endpoint": "127.0.0.1",
                "port": 6380,
                "db": 2,
                "password": None,
                "ssl": False,
            },
        ),
        (
            "rediss://:s3cret@cache.internal",
            {
                "backend": "redis",
                "endpoint": "cache.internal",
                "port": 6379,
                "db": 0,
                "password": "s3cret",
                "ssl": True,
            },
        ),
    ],
)
def test_cache_url_forms(url, expected):
    assert parse_cache_url(url) == expected


@pytest.mark.parametrize("url", ["memcached://x", "redis://h/abc", "locmem"])
def test_bad_cache_url_is_refused(url):
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        parse_cache_url(url)


def test_external_system_settings_are_validated_by_name():
    result = load_settings(DEBUG="1", FILEMAKER_READ_TIMEOUT="soon")

    assert result.returncode != 0
    assert "FILEMAKER_READ_TIMEOUT must be a number" in result.stderr


def test_external_system_settings_come_from_the_environment():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django_project.settings as s; "
            "sf, geo = s.SALESFORCE, s.GEOCODER; "
            "print(sf['base_url'], sf['max_attempts'], geo['batch_size'])",
        ],
        env={
            **os.environ,
            "DEBUG": "1",
            "SALESFORCE_URL": "https://acme.my.salesforce.com",
            "SALESFORCE_MAX_ATTEMPTS": "2",
            "GEOCODER_BATCH_SIZE": "500",
        },
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.split() == ["https://acme.my.salesforce.com", "2", "500"]


def test_every_variable_read_is_documented_in_env_example_and_readme():
    """A variable the code reads but the docs do not list is a setting nobody can find."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sources = [
        root / "django_project" / "settings.py",
        *root.glob("django_project/integrations/*.py"),
    ]
    read = set()
    for source in sources:
        text = source.read_text()
        read |= set(re.findall(r'(?:environ\.get|env_\w+)\(\s*"([A-Z][A-Z0-9_]+)"', text))
    env_example = (root / ".env.example").read_text()
    readme = (root / "README.md").read_text()

    assert len(read) > 30
    assert sorted(v for v in read if not re.search(rf"^{v}=", env_example, re.M)) == []
    assert sorted(v for v in read if f"`{v}`" not in readme) == []


@pytest.mark.parametrize(("debug", "expected"), [("1", "True True"), ("0", "False False")])
def test_graphiql_and_the_introspection_it_needs_follow_debug(debug, expected):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHIQL", "GRAPHQL_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django_project.settings as s; "
            "print(s.GRAPHIQL_ENABLED, s.GRAPHQL_INTROSPECTION)",
        ],
        env={**clean, "DEBUG": debug, "SECRET_KEY": "x" * 50},
        capture_output=True,
        text=True,
        check=True,
    )

    assert done.stdout.strip() == expected
