from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "django_project.bench"
    label = "bench"
    verbose_name = "Benchmark"
