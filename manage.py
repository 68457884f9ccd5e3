#!/usr/bin/env python
"""Django's command-line utility for Ondo."""

import os
import sys


def main():
    if sys.version_info < (3, 12):  # noqa: UP036 - explain instead of a SyntaxError deep in Django
        sys.exit("Ondo needs Python 3.12 or newer (Django 6). Run it through ./ondo, which finds one.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
