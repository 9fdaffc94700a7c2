"""The s3vl Lambda handler: JSON requests from the s3vl SQL schema in, Amazon S3 Vectors calls out."""

HANDLER_VERSION = "1.0.0"
