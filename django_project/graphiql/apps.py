"""GraphiQL served from this app's own static files, so the IDE works on air-gapped networks.

Strawberry's bundled page loads React and GraphiQL from unpkg.com. This app overrides its
`graphql/graphiql.html` template with one that loads the same packages (pinned in package.json,
installed by `make install`) from STATIC_URL, and adds a system check that names the missing
files and the command that installs them, instead of a blank page in the browser.
"""

from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

REQUIRED_FILES = {
    "graphiql": ["graphiql.min.js", "graphiql.min.css"],
    "react": ["react.production.min.js"],
    "react-dom": ["react-dom.production.min.js"],
    "graphiql-plugin-explorer": ["index.umd.js", "style.css"],
    "js-cookie": ["js.cookie.min.js"],
}


def check_graphiql_assets(**_: object) -> list[checks.CheckMessage]:
    if not settings.GRAPHIQL_ENABLED:
        return []
    missing = [
        str(settings.GRAPHIQL_ASSETS[name] / filename)
        for name, filenames in REQUIRED_FILES.items()
        for filename in filenames
        if not (settings.GRAPHIQL_ASSETS[name] / filename).is_file()
    ]
    if not missing:
        return []
    return [
        checks.Error(
            "GraphiQL is enabled but its browser assets are not installed: " + ", ".join(missing),
            hint="Run `make install` (it runs `npm ci`), or set GRAPHIQL_ENABLED=0.",
            id="graphiql.E001",
        )
    ]


def check_graphiql_can_introspect(**_: object) -> list[checks.CheckMessage]:
    if not settings.GRAPHIQL_ENABLED or settings.GRAPHQL_INTROSPECTION:
        return []
    return [
        checks.Warning(
            "GraphiQL is enabled but introspection is off: the IDE cannot load the schema.",
            hint="Set GRAPHQL_INTROSPECTION=1, or GRAPHIQL_ENABLED=0.",
            id="graphiql.W001",
        )
    ]


class GraphiQLConfig(AppConfig):
    name = "django_project.graphiql"
    label = "graphiql"
    verbose_name = "GraphiQL (offline)"

    def ready(self) -> None:
        checks.register(check_graphiql_assets, checks.Tags.staticfiles)
        checks.register(check_graphiql_can_introspect)
