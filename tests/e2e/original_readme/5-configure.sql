-- Configure Lambda function ARN (get from CloudFormation outputs)
SELECT s3vl.configure(
    'arn:aws:lambda:us-west-2:123456789012:function:s3vl-vector-query', 
    'us-west-2'
);

-- Test the connection
SELECT * FROM s3vl.validate_config();
