"""Artboard: one self-hosted backend for AI-image apps."""

__version__ = "0.1.0"
