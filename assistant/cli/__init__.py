"""The command line (typer): thin commands over runners, views and jobs."""
