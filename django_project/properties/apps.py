from django.apps import AppConfig


class PropertiesConfig(AppConfig):
    name = "django_project.properties"
    label = "properties"
    verbose_name = "Properties"
    default_auto_field = "django.db.models.BigAutoField"
