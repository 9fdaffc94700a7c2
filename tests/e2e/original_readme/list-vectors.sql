-- List vectors with pagination
SELECT 
    vector_id,
    metadata,
    response_next_token,
    total_count
FROM s3vl.list_vectors(
    index_name => 'demo-index',
    max_results => 20,
    return_metadata => TRUE
);
