"""Engines: the work a job runs (rendering a sketch), with no HTTP or database types."""
