-- Perform similarity search using registered index name
SELECT 
    vector_id,
    similarity_score,
    distance,
    metadata
FROM s3vl.query_vectors(
    query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5],
    index_name => 'demo-index',
    top_k => 10,
    return_metadata => TRUE
);

-- Search with metadata filtering
SELECT 
    vector_id,
    similarity_score,
    metadata
FROM s3vl.query_vectors(
    query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5],
    index_name => 'demo-index',
    top_k => 5,
    return_metadata => TRUE,
    metadata_filter => '{"category": "test"}'::jsonb
);
