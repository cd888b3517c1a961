"""Checks over a library: lint, NIST phase coverage, run statistics."""
