"""The counselor console: plain HTML, CSS and JavaScript modules served by the app at ``/console``.

Everything under ``static/`` ships in the package (``pyproject.toml``, package-data) and is served
as it is by ``routes.py``: no build step, no CDN. The console talks to the public API only, the same
one the mobile app uses, so each screen is also proof that the API serves a counselor's day.
"""
