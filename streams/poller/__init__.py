"""The feed poller: RSS/Atom feeds fetched politely, parsed off the loop, published once to Kafka.

Modules, one job each: ``config`` (the YAML feed list), ``guard`` (blocked addresses),
``fetcher`` (HTTP with deadlines, caps and manual redirects), ``parser`` (feedparser off the event
loop), ``articles`` (canonical links, plain text, ``ArticleV1``), ``schedule`` (intervals,
back-off, Retry-After), ``state`` (validators, seen ids and health in a compacted topic),
``publisher`` (the idempotent kafka-python producer), ``health`` (feed status for operators),
``poller`` (the scheduler that ties them together) and ``factory`` (building it from settings).
"""
