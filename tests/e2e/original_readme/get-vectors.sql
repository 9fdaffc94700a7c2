-- Get vectors by ID
SELECT 
    vector_id,
    embedding,
    metadata,
    found
FROM s3vl.get_vectors(
    vector_ids => ARRAY['vec_001', 'vec_002', 'vec_003'],
    index_name => 'demo-index',
    include_vector_data => TRUE,
    include_metadata => TRUE
);
