-- Connect to your Aurora PostgreSQL database
-- psql -h your-cluster.cluster-xyz.region.rds.amazonaws.com -U postgres -d your_database

-- Install the s3vl extension
\i source/sql/install.sql
