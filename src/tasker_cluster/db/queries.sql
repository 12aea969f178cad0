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

-- name: role_exists --
SELECT 1 FROM pg_roles WHERE rolname = %s;

-- name: database_owner --
-- The owner of a database, NULL when there is no such database.
SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s;

-- name: hand_over_statements --
-- `ALTER ... OWNER TO` statements for every object of this database that role `from` owns, outside the system
-- schemas and extensions: what a database made under trust auth, where the superuser owns everything, needs to
-- become the application role's. Indexes, table row types and the sequences of serial or identity columns follow
-- their tables; a range type takes its multirange along.
WITH previous AS (SELECT oid FROM pg_roles WHERE rolname = %(from)s),
     user_schemas AS (
       SELECT oid, nspname, nspowner FROM pg_namespace
        WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\_%%'
     ),
     extension_members AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e')
SELECT format('ALTER SCHEMA %%I OWNER TO %%I', s.nspname, %(to)s::text)
  FROM user_schemas s
 WHERE s.nspowner = (SELECT oid FROM previous)
   AND NOT EXISTS (SELECT 1 FROM extension_members e WHERE e.classid = 'pg_namespace'::regclass AND e.objid = s.oid)
UNION ALL
SELECT format('ALTER TABLE %%s OWNER TO %%I', c.oid::regclass, %(to)s::text)
  FROM pg_class c JOIN user_schemas s ON s.oid = c.relnamespace
 WHERE c.relowner = (SELECT oid FROM previous)
   AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
   AND NOT EXISTS (
         SELECT 1 FROM pg_depend d
          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
            AND (d.deptype = 'e' OR (c.relkind = 'S' AND d.deptype IN ('a', 'i')))
       )
UNION ALL
SELECT format('ALTER ROUTINE %%s OWNER TO %%I', p.oid::regprocedure, %(to)s::text)
  FROM pg_proc p JOIN user_schemas s ON s.oid = p.pronamespace
 WHERE p.proowner = (SELECT oid FROM previous)
   AND NOT EXISTS (SELECT 1 FROM extension_members e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid)
UNION ALL
SELECT format('ALTER TYPE %%s OWNER TO %%I', t.oid::regtype, %(to)s::text)
  FROM pg_type t JOIN user_schemas s ON s.oid = t.typnamespace
 WHERE t.typowner = (SELECT oid FROM previous)
   AND (t.typtype IN ('d', 'e', 'r')
        OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
   AND NOT EXISTS (SELECT 1 FROM extension_members e WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid);
