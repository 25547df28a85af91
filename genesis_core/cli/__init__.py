"""The ``genesis`` command line."""
