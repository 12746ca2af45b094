"""Web app on the embedded defaults: `python app.py` (ASSISTANT_UI_HOST / ASSISTANT_UI_PORT)."""

from index.embeddings import offline_environment

offline_environment()

from assistant.settings import Settings  # noqa: E402
from assistant.ui import launch  # noqa: E402

if __name__ == "__main__":
    settings = Settings.load()
    launch(settings, host=settings.ui_host, port=settings.ui_port)
