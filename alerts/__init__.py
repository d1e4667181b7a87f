"""Slack alerts: formatting, routing, pacing and delivery. The formatting core is pure."""
