"""s3vl local stack: S3 Vectors emulator, Lambda service, Aurora shim and PostgreSQL lifecycle."""
