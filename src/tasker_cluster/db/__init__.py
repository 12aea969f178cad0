"""The project's PostgreSQL: a local server the CLI provisions itself, or an external one from DATABASE_URL.

Kept import-free so that `cluster status-quick` can reach `settings` without loading psycopg.
"""
