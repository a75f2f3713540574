"""Read models: what a command or a digest shows, read from the latest snapshot."""
