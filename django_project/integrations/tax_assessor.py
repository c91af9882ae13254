from django_project.env import client_settings, env_str

TAX_ASSESSOR = {
    **client_settings(
        "TAX_ASSESSOR", base_url="http://127.0.0.1:3002", read_timeout=2.0, batch_size=100
    ),
    "dataset": env_str("TAX_ASSESSOR_DATASET", "uzyt-m557"),
    "app_token": env_str("TAX_ASSESSOR_APP_TOKEN"),
}
