"""The web app (Gradio): ``python app.py`` or ``assistant ui``."""
