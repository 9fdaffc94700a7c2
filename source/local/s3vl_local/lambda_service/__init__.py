"""A local AWS Lambda service: the Lambda REST API subset s3vl uses, running zips with awslambdaric."""
