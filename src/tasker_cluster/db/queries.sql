-- name: server_facts --
-- Version, this database's size, client connections to the whole server and the limit.
SELECT current_setting('server_version') AS version,
       pg_database_size(current_database()) AS size_bytes,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections,
       current_setting('max_connections')::int AS max_connections,
       extract(epoch FROM pg_postmaster_start_time()) AS started_at;

-- name: pgmq_version --
-- The PGMQ version in this database: the extension's, else the one our SQL install recorded on the schema.
SELECT coalesce(
         (SELECT extversion FROM pg_extension WHERE extname = 'pgmq'),
         (SELECT substring(obj_description(oid, 'pg_namespace') FROM 'PGMQ ([0-9.]+)')
            FROM pg_namespace WHERE nspname = 'pgmq'),
         CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'pgmq') THEN 'unknown' END
       ) AS version;

-- name: queue_depths --
-- Messages waiting per PGMQ queue (visible or not), in name order.
SELECT queue_name, queue_length FROM pgmq.metrics_all() ORDER BY queue_name;

-- name: data_directory --
-- Where an external server keeps its data (superusers and pg_read_all_settings members only).
SELECT current_setting('data_directory');

-- name: pgmq_installed --
SELECT 1 FROM pg_namespace WHERE nspname = 'pgmq';

-- name: install_lock --
-- Transaction-scoped, so a crashed installer cannot leave it held.
SELECT pg_advisory_xact_lock(%s);
