"""The only package that talks to Slack (slack_bolt / slack_sdk): the app, its handlers, and a fake Slack."""
