"""Articles from the web: ``assistant ingest URL`` and the feed poller.

``http`` fetches politely (robots.txt, a turn per host, backoff, conditional GET);
``listing`` reads a feed, a sitemap or a sitemap index into entries; ``pages`` makes an
article of an entry's page (the feed's own text when the page cannot be had); ``sources``
joins them for a URL; ``state`` keeps the subscriptions and what each poll saw, in SQLite in
the data dir; ``poller`` polls the subscriptions and ingests what is new or changed.

Nothing is imported here, so ``index.loaded`` can use ``index.feeds.http`` without a cycle.
"""
