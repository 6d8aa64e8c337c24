"""Fingerprinted static files: `url_for('static', filename=...)` adds `v=<hash of the file>`, so a
changed file gets a new URL and every URL can be cached for a year (SEND_FILE_MAX_AGE_DEFAULT in
the app, `expires 1y` in the nginx site of deploy/). The hash is computed once per file and process."""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from flask import Flask


@lru_cache(maxsize=256)
def _fingerprint(path: str, mtime_ns: int) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def fingerprint(static_folder: str, filename: str) -> str | None:
    path = os.path.join(static_folder, filename)
    try:
        mtime_ns = os.stat(path).st_mtime_ns  # a file edited while serving (flask run) gets a new hash
    except OSError:
        return None
    return _fingerprint(path, mtime_ns)


def register(app: Flask) -> None:
    static_folder = app.static_folder
    assert static_folder is not None

    @app.url_defaults
    def _static_version(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "v" not in values and values.get("filename"):
            version = fingerprint(static_folder, values["filename"])
            if version:
                values["v"] = version

    @app.after_request
    def _immutable(response):
        from flask import request

        if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
            response.cache_control.immutable = True
            response.cache_control.public = True
        return response
