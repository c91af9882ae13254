from django.conf import settings
from django.contrib import admin
from django.urls import path

from django_project import ops
from django_project.views import GraphQLView, stitching_sdl
from schema import schema

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql/", GraphQLView.as_view(schema=schema), name="graphql"),
    path("graphql/stitching.graphql", stitching_sdl, name="stitching-sdl"),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
]

if settings.BENCH_VIEWS:  # only `manage.py bench` turns these on, for its baselines
    from django_project.bench import views as bench_views

    urlpatterns += [
        path("bench/plain/<int:pk>", bench_views.plain),
        path("bench/strawberry/", bench_views.strawberry_view),
        path("bench/naive", bench_views.naive),
    ]
