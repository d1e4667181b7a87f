"""``python -m wirewatch`` runs the console script (child processes use this)."""

from wirewatch.cli import main

main()
