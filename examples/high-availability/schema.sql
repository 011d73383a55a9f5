-- The application's accounts table (in the application's database, not
-- idsync's): psql "$IDSYNC_APP_DSN" -f schema.sql
CREATE TABLE accounts (
    employee_id  text PRIMARY KEY,
    email        text NOT NULL UNIQUE,
    display_name text,
    department   text
);
