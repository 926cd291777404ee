"""WSGI entry point: gunicorn wsgi:app"""

from onestop import create_app

app = create_app()
