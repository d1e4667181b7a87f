"""Wirewatch: streaming media monitoring from RSS/Atom feeds to Slack alerts."""

__version__ = "0.1.0"
