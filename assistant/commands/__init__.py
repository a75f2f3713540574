"""Slack-free command runners: ``run(request, context) -> Message``, declared once in a registry."""
