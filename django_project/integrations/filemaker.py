from django_project.env import client_settings, env_str

FILEMAKER = {
    **client_settings(
        "FILEMAKER", base_url="http://127.0.0.1:3000", read_timeout=2.0, batch_size=100
    ),
    "database": env_str("FILEMAKER_DATABASE"),
    "username": env_str("FILEMAKER_USER"),
    "password": env_str("FILEMAKER_PASSWORD"),
    "layout": env_str("FILEMAKER_LAYOUT", "Listings"),
}
