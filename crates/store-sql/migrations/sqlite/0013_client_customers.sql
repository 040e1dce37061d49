-- An export walks one client company's customers in id order, a page at a time (issue 15):
-- without this each page sorted all of the client's records again.
CREATE INDEX customers_client_id ON customers(client_id, id);
DROP INDEX customers_client;
