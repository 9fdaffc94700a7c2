-- Upgrade in place, second half: put back the configuration and registry rows 05_upgrade.sql set aside
-- (only when it found an older schema), then drop the temporary tables so nothing is left over.

DO $restore$
BEGIN
    IF pg_catalog.to_regclass('pg_temp.s3vl_upgrade_config') IS NULL THEN
        RETURN;
    END IF;
    -- Rows are copied as they were: a stored Region that differs from the function ARN's (the original
    -- sample's default) is kept, and validate_config() reports it.
    INSERT INTO s3vl.config (singleton, lambda_arn, aws_region, timeout_seconds, created_at, updated_at, updated_by)
    SELECT true, u.lambda_arn, u.aws_region, u.timeout_seconds, u.created_at, u.updated_at, u.updated_by
      FROM pg_temp.s3vl_upgrade_config u;
    INSERT INTO s3vl.index_registry (index_name, index_arn, description, dimension, distance_metric, data_type,
                                     bucket_name, region, account_id, is_active, created_at, updated_at, updated_by)
    SELECT u.index_name, u.index_arn, u.description, u.dimension, u.distance_metric, u.data_type, u.bucket_name,
           u.region, u.account_id, u.is_active, u.created_at, u.updated_at, u.updated_by
      FROM pg_temp.s3vl_upgrade_registry u;
    DROP TABLE pg_temp.s3vl_upgrade_config, pg_temp.s3vl_upgrade_registry;
END
$restore$;
