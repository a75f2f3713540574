"""What the bot says and does: settings, jobs, terminal and Slack front ends."""
