"""An Answer quoting two sentences of one article under one number, as the extractive and
LLM answerers can: every face must list that article once, with both quotes."""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.answers import Answer, Citation, Passage

TEXT = (
    "Chipotle raised its menu prices by 2 percent on Monday. "
    "The chain said beef and labour costs drove the increase. "
    "Analysts expected the move."
)
FIRST = "Chipotle raised its menu prices by 2 percent on Monday."
SECOND = "The chain said beef and labour costs drove the increase."


def doubled_answer() -> Answer:
    published = datetime(2025, 6, 2, tzinfo=UTC)
    common = {
        "article_id": "chipotle1",
        "title": "Chipotle raises prices",
        "url": "https://news.example/chipotle",
        "source": "news.example",
        "published": published,
        "chunk_id": "chipotle1:0",
    }
    passage = Passage(**common, start=0, end=len(TEXT), text=TEXT, sentences=[])
    citations = [
        Citation(n=1, **common, start=TEXT.index(q), end=TEXT.index(q) + len(q), quote=q)
        for q in (FIRST, SECOND)
    ]
    return Answer(
        question="How much did Chipotle raise prices?",
        answer=f"2 percent [1]\n\n“{FIRST}” [1]",
        short_answer="2 percent",
        citations=citations,
        passages=[passage],
    )


AS_OF = "2025-02-19"
VOLCANO_Q = "Which volcano erupted?"


def volcano_articles() -> list[dict[str, str]]:
    """Three eruptions: one before AS_OF, one after it, one undated (stays eligible)."""
    return [
        {
            "id": "etna-feb",
            "title": "Etna erupts, sending ash over Sicily",
            "text": "Mount Etna erupted on Tuesday, sending a column of ash over Catania. "
            "Flights at Catania airport were suspended for several hours.",
            "source": "early.example",
            "published": "2025-02-18",
        },
        {
            "id": "kilauea-jun",
            "title": "Kilauea volcano erupts again",
            "text": "Kilauea volcano erupted on Monday, with lava fountains reaching 300 metres. "
            "The Hawaiian volcano has erupted repeatedly this year.",
            "source": "late.example",
            "published": "2025-06-10",
        },
        {
            "id": "stromboli-undated",
            "title": "Stromboli volcano erupted overnight",
            "text": "The Stromboli volcano erupted overnight, and monitoring stations recorded "
            "strong tremors across the island.",
            "source": "undated.example",
        },
    ]


GUARD_Q = "How many National Guard members were deployed to Los Angeles?"


def guard_rows() -> list[dict[str, str]]:
    """Two reporters' articles on one story: Jane Smith's names her in its ``author`` field,
    Tom Reyes's only in a "By …" line at the head of its text."""
    return [
        {
            "id": "guard-smith",
            "title": "Trump orders Guard to Los Angeles",
            "author": "Jane Smith",
            "source": "Harbor Daily",
            "published": "2025-06-08",
            "text": "President Trump ordered 2,000 National Guard members to Los Angeles on "
            "Saturday after two days of protests over immigration raids. Governor Gavin "
            "Newsom called the deployment unlawful.",
        },
        {
            "id": "guard-reyes",
            "title": "Guard troops arrive in Los Angeles",
            "source": "Harbor Daily",
            "published": "2025-06-09",
            "text": "By Tom Reyes, USA TODAY\n\nThe first of 2,000 National Guard members "
            "deployed to Los Angeles arrived on Sunday, the Pentagon said. Protesters "
            "gathered outside the federal building downtown.",
        },
    ]
