"""A standalone payment-channel simulator speaking protocol v1 (see webapp/channel/protocol.py).

Stdlib only, its own SQLite file, fault injection and a controllable clock under /_control/.
Run: python -m channelsim --port 8765 --db instance/channelsim.db  (secret in CHANNEL_SECRET).
"""
