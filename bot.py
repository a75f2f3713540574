"""crm-bot's entry point: ``crm-bot`` (the console script) and ``python bot.py`` run the same CLI.

The command line lives in ``assistant/cli/``; nothing is built at import time.  Run ``crm-bot --help``.
"""

from __future__ import annotations

from assistant.cli.app import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    main()
