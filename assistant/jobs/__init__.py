"""Jobs: work that runs on a schedule or on demand and writes to the store or to Slack."""
