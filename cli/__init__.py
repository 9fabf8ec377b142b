"""The ``sciffusion`` command line: parses arguments and calls one pipeline function."""
