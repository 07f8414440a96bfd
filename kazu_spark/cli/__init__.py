"""The ``kazu-spark`` command line."""
