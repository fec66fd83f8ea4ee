-- A few changes made while the demo job runs (each statement its own transaction).
INSERT INTO customers (customer_id, name, email, country, signup_date) VALUES (201, 'New Customer', 'new@example.com', 'CH', CURRENT_DATE);
UPDATE customers SET vip = true, credit_limit = 5000.00 WHERE customer_id = 42;
INSERT INTO orders (order_id, customer_id, product_id, quantity, total, status, ordered_at) VALUES (1001, 201, 7, 2, 99.98, 'paid', now());
UPDATE orders SET status = 'shipped', delivery_date = CURRENT_DATE WHERE order_id = 1000;
DELETE FROM orders WHERE order_id = 999;
UPDATE products SET unit_price = unit_price * 1.1 WHERE product_id = 7;
