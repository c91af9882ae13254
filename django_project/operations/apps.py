from django.apps import AppConfig
from django.core import checks


class OperationsConfig(AppConfig):
    """Commands that operate the service, and checks of how it is configured to run."""

    name = "django_project.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from django_project.operations.checks import check_persisted_query_manifest

        checks.register(check_persisted_query_manifest)
