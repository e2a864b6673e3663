"""The built-in web studio: static files (HTML, JS modules, CSS) served at ``/`` that use the public API only."""
