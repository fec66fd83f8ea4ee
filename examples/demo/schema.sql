-- Sample schema for the demo tenant: customers, products, orders with the common types.
DROP TABLE IF EXISTS orders, customers, products CASCADE;
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');

CREATE TABLE customers (
    customer_id   integer PRIMARY KEY,
    name          text NOT NULL,
    email         varchar(200),
    country       char(2),
    vip           boolean NOT NULL DEFAULT false,
    signup_date   date,
    credit_limit  numeric(12, 2),
    external_ref  uuid,
    profile       jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    product_id    bigint PRIMARY KEY,
    sku           text UNIQUE NOT NULL,
    title         text NOT NULL,
    unit_price    numeric(10, 2) NOT NULL,
    weight_kg     double precision,
    tags          text[],
    photo         bytea,
    available_from time,
    updated_at    timestamp
);

CREATE TABLE orders (
    order_id      bigint PRIMARY KEY,
    customer_id   integer NOT NULL REFERENCES customers,
    product_id    bigint NOT NULL REFERENCES products,
    quantity      smallint NOT NULL,
    discount      real,
    total         numeric(14, 2) NOT NULL,
    status        order_status NOT NULL DEFAULT 'new',
    ordered_at    timestamptz NOT NULL,
    delivery_date date,
    note          text
);

INSERT INTO customers
SELECT i, 'Customer ' || i, 'c' || i || '@example.com', (ARRAY['DE','FR','US','JP','BR'])[1 + i % 5],
       i % 7 = 0, DATE '2020-01-01' + i, (i * 137 % 100000) / 100.0,
       md5(i::text)::uuid, jsonb_build_object('tier', i % 3, 'langs', jsonb_build_array('en', 'de')),
       TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 hour'
FROM generate_series(1, 200) AS i;

INSERT INTO products
SELECT i, 'SKU-' || lpad(i::text, 5, '0'), 'Product ' || i || CASE WHEN i % 10 = 0 THEN ' – édition spéciale' ELSE '' END,
       (i * 7 % 500) + 0.99, CASE WHEN i % 9 = 0 THEN NULL ELSE i * 0.125 END,
       ARRAY['tag' || i % 4, 'line' || i % 3], decode(md5(i::text), 'hex'),
       TIME '08:00' + i * INTERVAL '1 minute', TIMESTAMP '2024-06-01 12:00:00' + i * INTERVAL '1 day'
FROM generate_series(1, 50) AS i;

INSERT INTO orders
SELECT i, 1 + i % 200, 1 + i % 50, 1 + i % 5, CASE WHEN i % 4 = 0 THEN 0.1 ELSE NULL END,
       (1 + i % 5) * ((i % 50) * 7 % 500 + 0.99), (ARRAY['new','paid','shipped','cancelled'])[1 + i % 4]::order_status,
       TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '37 minutes',
       CASE WHEN i % 3 = 0 THEN DATE '2025-01-05' + i % 90 END, CASE WHEN i % 11 = 0 THEN 'gift wrap' END
FROM generate_series(1, 1000) AS i;
