-- Relational data that the walkthrough joins with vector search results (step 6): one product per
-- sample vector it names, with the vector's category. vec_003, the join's query vector, is out of stock.
-- Idempotent: the demo can run twice.
CREATE TABLE IF NOT EXISTS s3vl_demo_products (
    vector_key   text PRIMARY KEY,
    product_name text NOT NULL,
    category     text NOT NULL,
    price        decimal(10, 2) NOT NULL,
    in_stock     boolean NOT NULL,
    description  text
);

INSERT INTO s3vl_demo_products (vector_key, product_name, category, price, in_stock, description) VALUES
    ('vec_001', 'Example Widget',         'example',    19.99, true,  'The basic widget'),
    ('vec_002', 'Example Widget Pro',     'example',    49.99, true,  'The widget with more options'),
    ('vec_003', 'Demo Board v1',          'demo',      129.00, false, 'First demonstration board'),
    ('vec_012', 'Demo Board v2',          'demo',      179.00, true,  'Second demonstration board'),
    ('vec_015', 'Demo Board Enterprise',  'demo',      899.00, true,  'Demonstration board for large teams'),
    ('vec_005', 'Sample Pack S',          'sample',     24.50, true,  'A small assortment of samples'),
    ('vec_007', 'Sample Pack XL',         'sample',    349.00, true,  'The complete assortment of samples'),
    ('vec_006', 'Test Probe Kit',         'test',       89.00, true,  'Probes for bench testing'),
    ('vec_009', 'Test Rig',               'test',      650.00, false, 'A full test station'),
    ('vec_048', 'Twin Item A',            'identical',  75.00, true,  'Same embedding as B and C'),
    ('vec_049', 'Twin Item B',            'identical',  75.00, false, 'Same embedding as A and C'),
    ('vec_050', 'Twin Item C',            'identical', 520.00, true,  'Same embedding as A and B')
ON CONFLICT (vector_key) DO UPDATE SET
    product_name = EXCLUDED.product_name, category = EXCLUDED.category, price = EXCLUDED.price,
    in_stock = EXCLUDED.in_stock, description = EXCLUDED.description;
