"""A local Amazon S3 Vectors service: the rest-json API that boto3 and the AWS CLI speak, on 127.0.0.1."""
