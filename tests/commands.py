"""Management commands as an operator runs them: (exit code, what they printed)."""

import io

from django.core.management import call_command
from django.core.management.base import CommandError


def run_command(name, *arguments):
    """(0, output), or (1, output + the CommandError's message) when the command fails."""
    output = io.StringIO()
    try:
        call_command(name, *arguments, stdout=output)
    except CommandError as error:
        return 1, output.getvalue() + f"CommandError: {error}"
    return 0, output.getvalue()
