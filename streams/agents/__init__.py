"""Faust agents: short adapters that decode, call the pure core, and send. One agent a module."""
