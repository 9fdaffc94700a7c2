-- Relational data that the walkthrough joins with vector search results (step 6).
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
    ('vec_001', 'Trail Running Shoes',     'footwear',    129.99, true,  'Lightweight shoes for rough terrain'),
    ('vec_002', 'Noise-Cancelling Headset', 'electronics', 349.00, true,  'Over-ear, 30-hour battery'),
    ('vec_003', 'Espresso Machine',         'kitchen',     799.00, true,  'Dual boiler, PID control'),
    ('vec_012', 'Ergonomic Office Chair',   'furniture',   459.50, false, 'Adjustable lumbar support'),
    ('vec_015', 'Mechanical Keyboard',      'electronics', 149.00, true,  'Hot-swappable switches'),
    ('vec_005', 'Cast Iron Skillet',        'kitchen',      39.95, true,  'Pre-seasoned, 12 inch'),
    ('vec_007', 'Camping Tent',             'outdoor',     289.00, true,  'Two-person, three-season'),
    ('vec_006', 'Smart Watch',              'electronics', 399.00, false, 'GPS and heart-rate monitor'),
    ('vec_009', 'Standing Desk',            'furniture',   620.00, true,  'Electric height adjustment'),
    ('vec_048', 'Reading Lamp',             'home',         59.00, true,  'Warm LED, dimmable'),
    ('vec_049', 'Reading Lamp (Twin Pack)', 'home',        109.00, true,  'Two warm LED lamps'),
    ('vec_050', 'Designer Reading Lamp',    'home',        540.00, true,  'Hand-blown glass shade')
ON CONFLICT (vector_key) DO UPDATE SET
    product_name = EXCLUDED.product_name, category = EXCLUDED.category, price = EXCLUDED.price,
    in_stock = EXCLUDED.in_stock, description = EXCLUDED.description;
