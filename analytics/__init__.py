"""Pure analytics over pandas DataFrames: no I/O, no clock reads, no SQL, no Slack."""
