-- Sample: Join vector similarity results with product catalog
WITH similar_products AS (
    SELECT 
        vector_id,
        similarity_score,
        (metadata->>'id')::INTEGER as product_id
    FROM s3vl.query_vectors(
        query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5],
        index_name => 'demo-index',
        top_k => 10
    )
)
SELECT 
    p.product_name,
    p.price,
    sp.similarity_score,
    sp.vector_id
FROM similar_products sp
JOIN products p ON p.id = sp.product_id
ORDER BY sp.similarity_score DESC;
