"""Web app on the embedded defaults: `python app.py` (ASSISTANT_UI_HOST / ASSISTANT_UI_PORT).

On an empty index it ingests the built-in sample article first.
"""

from index.embeddings import offline_environment

offline_environment()  # before the heavy imports: no hub downloads, no analytics

from assistant.core import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.ui import launch  # noqa: E402

if __name__ == "__main__":
    settings = Settings.load()
    launch(Assistant.from_settings(settings), host=settings.ui_host, port=settings.ui_port)
