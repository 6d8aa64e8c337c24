"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
from webapp.app import create_app

app = create_app()
