"""The reference subject: orchestration and worker services on PostgreSQL + PGMQ, run by the default cluster."""
