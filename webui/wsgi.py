"""The WSGI entry point for several web processes behind gunicorn:

    REPLYDESK_CONFIG=/etc/replydesk/replydesk.toml gunicorn -w 4 -b 127.0.0.1:8000 'webui.wsgi:app()'

The config is read the way the `replydesk` command reads it (webui/cli.py
is where the channels' settings are wired in). Set [web] secret_key so every
process signs sessions alike.
"""
from __future__ import annotations


def app():
    from webui.app import create_app
    from webui.cli import State

    return create_app(State(None, False).config)
