"""Local stand-in for Aurora PostgreSQL's aws_lambda extension (SQL + installer)."""
