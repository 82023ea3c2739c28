#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digest.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A setting's own message names it and says what it wants: that line, not a
        # traceback through Django's start-up.
        sys.exit(f"configuration error: {error}")


if __name__ == "__main__":
    main()
