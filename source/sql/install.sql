-- s3vl: install the s3vl schema, or upgrade it in place from an earlier s3vl release or from the
-- original AWS sample (sample-rds-lambda-s3vector-integration), keeping configuration and registry.
--
--   psql -f source/sql/install.sql          from the repository root, or
--   \i install.sql                           from source/sql inside psql.
--
-- One transaction that stops on the first error; running it twice is the same as running it once.
-- The same file runs on Aurora PostgreSQL and on the local stack: it never names a local-only object.
-- After a failed run inside an interactive psql session, type ROLLBACK before trying again.

\set s3vl_saved_on_error_stop :ON_ERROR_STOP
\set ON_ERROR_STOP on

BEGIN;
-- Re-running reports "already exists, skipping" for every kept object: keep the output to real problems.
SET LOCAL client_min_messages = warning;

-- \ir resolves each part relative to this file, so the install works from any working directory.
\ir 00_prereq.sql
\ir 05_upgrade.sql
\ir 10_config.sql
\ir 20_errors.sql
\ir 30_invoke.sql
\ir 40_registry.sql
\ir 50_validate.sql
\ir 60_query.sql
\ir 65_cache.sql
\ir 68_batch.sql
\ir 70_read.sql
\ir 75_rank.sql
\ir 77_text.sql
\ir 80_write.sql
\ir 85_sync.sql
\ir 90_privileges.sql
\ir 95_upgrade_finish.sql

COMMIT;

\set ON_ERROR_STOP :s3vl_saved_on_error_stop
\unset s3vl_saved_on_error_stop
