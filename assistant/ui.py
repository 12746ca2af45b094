"""Gradio face. For now a passage search over the index; the chat UI comes with the UI issue.

Article text is untrusted: everything shown is escaped, never rendered as markup.
"""

from __future__ import annotations

import html
from typing import Any

from assistant import components
from assistant.settings import Settings


def _render(hits: list[Any]) -> str:
    if not hits:
        return "No passages found."
    parts = []
    for n, hit in enumerate(hits, 1):
        meta = hit.metadata
        date = str(meta.get("published", ""))[:10] or "no date"
        title = html.escape(str(meta.get("title", "")))
        url = str(meta.get("url") or "")
        link = ""
        if url.startswith(("http://", "https://")):
            link = f' · <a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>'

        parts.append(
            f"<p><b>[{n}] {title}</b><br><small>{html.escape(str(meta.get('source') or '—'))}"
            f" · {date}{link} · score {hit.score:.2f}</small><br>{html.escape(hit.text)}</p>"
        )
    return "\n".join(parts)


def build_ui(settings: Settings) -> Any:
    import gradio as gr

    store = components.store(settings)
    embedder = components.embedder(settings)

    def search(query: str, k: float) -> str:
        if not query.strip():
            return "Type a question or some keywords."
        return _render(store.query(embedder.embed_query(query), int(k)))

    with gr.Blocks(title="Newsroom assistant", analytics_enabled=False) as demo:
        gr.Markdown("## Newsroom assistant — passage search")
        with gr.Row():
            query = gr.Textbox(
                label="Question", placeholder="How many Guard members were deployed?", scale=4
            )
            k = gr.Slider(1, 20, value=5, step=1, label="passages")
        results = gr.HTML()
        query.submit(search, [query, k], results)
        gr.Button("Search").click(search, [query, k], results)
    return demo


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    components.ensure_sample(settings)
    build_ui(settings).launch(server_name=host, server_port=port)
