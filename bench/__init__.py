"""Benchmark scripts that print figures (run them as scripts, see the Makefile)."""
