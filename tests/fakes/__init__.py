"""Local stand-ins that speak the protocols of paid providers, so no test reaches the internet."""
