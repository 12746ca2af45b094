"""Web app on the embedded defaults: `python app.py` (ASSISTANT_UI_HOST / ASSISTANT_UI_PORT).

On an empty index it ingests the built-in sample article first. Each step of the start (half
a minute on a laptop) is announced on stderr, so the wait before the URL is not silent.
"""

import sys

# the public surface (assistant.__all__) is light to import: no model or web framework yet
from assistant import offline_environment

offline_environment()  # before the heavy imports: no hub downloads, no analytics


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    say("Starting the web app: loading the web framework…")
    from assistant import Assistant, Settings
    from assistant.faces.web.ui import launch

    settings = Settings.load()
    say(f"Loading the embedding model and the index in {settings.data_dir}…")
    asst = Assistant.from_settings(settings)
    if asst.library.is_empty():
        say("The index is empty: ingesting the built-in sample article…")
        asst.library.ensure_sample()
    say(f"Starting the server on http://{settings.ui_host}:{settings.ui_port} …")
    launch(asst, host=settings.ui_host, port=settings.ui_port)


if __name__ == "__main__":
    main()
