"""Results -> Slack messages (text fallback + Block Kit blocks).  Pure: no database, no Slack SDK."""
