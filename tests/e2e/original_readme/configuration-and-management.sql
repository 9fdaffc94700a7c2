-- Check current configuration
SELECT * FROM s3vl.get_config();

-- Validate Lambda connectivity
SELECT * FROM s3vl.validate_config();

-- List registered indexes
SELECT * FROM s3vl.list_indexes();

-- Get index details
SELECT * FROM s3vl.get_index_info('demo-index');
