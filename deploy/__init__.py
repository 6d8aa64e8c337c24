"""The production stack on one machine: nginx (TLS, gzip, static files) in front of gunicorn app
nodes, with payout worker processes, on PostgreSQL and Redis. Start it with `make stack`
(`python -m deploy.stack --help` lists the options)."""
