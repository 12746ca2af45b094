"""The faces: the ways people reach the :class:`~assistant.Assistant`.

``cli`` (the ``assistant`` command), ``api`` (HTTP, FastAPI), ``web`` (the Gradio app) and
``slack`` (the Slack bot). Each talks to the Assistant and the types ``assistant`` re-exports,
never to ``index`` directly; what every face shows of an answer's sources and of an ingest
comes from :mod:`assistant.faces.present`.
"""
