"""The project's PostgreSQL with PGMQ: a local server the CLI provisions itself, or an external one from DATABASE_URL.

`control` brings it up, stops and resets it; `quick` tells whether it runs from its files alone (status-quick);
`urls` turns the configuration's "the local server" into its URL, with the password `credentials` keeps in the data
folder (`roles` and `authentication` make every connection give one); modules that talk to a server import psycopg
inside their functions.
"""
