"""What both services share: settings, the database (pool, migrations, queries), wake-ups, health, metrics."""
