-- The walkthrough's SQL steps 3, 5 and 6, run by `make demo` after install.sql.
-- Every query here is the blog walkthrough's, verbatim, on the published sample data; the environment
-- comes from .local/stack.env.
\set ON_ERROR_STOP on
\pset footer off

\echo '== Step 3: configure, validate, register the index'
\getenv S3VL_LAMBDA_FUNCTION_ARN S3VL_LAMBDA_FUNCTION_ARN
SELECT s3vl.configure(:'S3VL_LAMBDA_FUNCTION_ARN', 'us-west-2');
SELECT * FROM s3vl.validate_config();
\getenv S3VL_S3_INDEX_ARN S3VL_S3_INDEX_ARN
SELECT s3vl.register_index('test-index-5d', :'S3VL_S3_INDEX_ARN', 'Test 5-dimensional vectors for demonstration');
SELECT index_name, index_arn, description FROM s3vl.list_indexes();

\echo '== Step 5a: nearest neighbours of a query vector: vec_001 first'
SELECT * FROM s3vl.query_vectors(index_name => 'test-index-5d',
    query_vector => ARRAY[0.23, -0.41, 0.88, 0.0, 0.03], top_k => 5, return_metadata => TRUE);

\echo '== Step 5b: the identical vector: vec_048, vec_049 and vec_050 score 1.000000'
SELECT vector_id, round(similarity_score::numeric, 6) AS similarity_score, metadata
FROM s3vl.query_vectors(index_name => 'test-index-5d',
    query_vector => ARRAY[-0.116703, 0.325043, 0.578032, 0.739321, -0.003246], top_k => 5,
    return_metadata => TRUE);

\echo '== Step 5c: fetch vectors by id'
SELECT * FROM s3vl.get_vectors(index_name => 'test-index-5d',
    vector_ids => ARRAY['vec_001', 'vec_002', 'vec_048']);

\echo '== Step 5d: filtered search: only category test'
SELECT vector_id, similarity_score, metadata FROM s3vl.query_vectors(
    query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], index_name => 'test-index-5d', top_k => 5,
    return_metadata => TRUE, metadata_filter => '{"category": "test"}'::jsonb);

\echo '== Step 6: join with relational data: products nearest vec_003, in stock and under 500, best first'
SET client_min_messages = warning;  -- the table may exist from an earlier run
\ir products.sql
WITH nearest AS (
    SELECT vector_id, similarity_score
    FROM s3vl.query_vectors(index_name => 'test-index-5d',
        query_vector => ARRAY[-0.392024, 0.229378, 0.582031, 0.382919, -0.555263], top_k => 10)
)
SELECT p.vector_key, p.product_name, p.price, round(s.similarity_score::numeric, 6) AS similarity_score
FROM nearest s
JOIN s3vl_demo_products p ON p.vector_key = s.vector_id
WHERE p.in_stock AND p.price < 500
ORDER BY s.similarity_score DESC
LIMIT 5;
