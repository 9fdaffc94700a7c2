-- Register the index with a friendly name (get ARN from CloudFormation outputs)
SELECT s3vl.register_index(
    'demo-index',
    'arn:aws:s3vectors:us-west-2:123456789012:bucket/s3vl-bucket-xyz/index/s3vl-index-5d'
);

-- Verify registration
SELECT * FROM s3vl.list_indexes();
