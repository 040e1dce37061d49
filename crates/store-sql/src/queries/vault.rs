//! The queries of one area (vault), written once for both backends: see `mod.rs`.

macro_rules! vault_queries {
    ($handle:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl mamori_store::VaultRead for $handle {
            async fn customer(&mut self, id: &str) -> StoreResult<Option<CustomerRecord>> {
                sqlx::query_as::<$db, CustomerRow>(
                    "SELECT id, client_id, wrapped_key, kek_version, fields, created_at, updated_at FROM customers WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?
                .map(CustomerRecord::try_from)
                .transpose()
            }

            async fn customers_by_index(&mut self, kind: &str, digest: &[u8]) -> StoreResult<Vec<CustomerRecord>> {
                sqlx::query_as::<$db, CustomerRow>(
                    "SELECT c.id, c.client_id, c.wrapped_key, c.kek_version, c.fields, c.created_at, c.updated_at \
                     FROM customer_index i JOIN customers c ON c.id = i.customer_id \
                     WHERE i.kind = $1 AND i.digest = $2 ORDER BY c.id",
                )
                .bind(kind)
                .bind(digest)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(CustomerRecord::try_from)
                .collect()
            }

            async fn count_customers(&mut self) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM customers")
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn customers_to_rewrap(&mut self, version: u32, limit: i64) -> StoreResult<Vec<(String, Vec<u8>)>> {
                sqlx::query_as::<$db, (String, Vec<u8>)>(
                    "SELECT id, wrapped_key FROM customers WHERE kek_version < $1 ORDER BY id LIMIT $2",
                )
                .bind(i64::from(version))
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn count_customers_to_rewrap(&mut self, version: u32) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM customers WHERE kek_version < $1")
                    .bind(i64::from(version))
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn count_client_customers(
                &mut self,
                client_id: &str,
                from: UnixMillis,
                before: UnixMillis,
            ) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>(
                    "SELECT COUNT(*) FROM customers WHERE client_id = $1 AND created_at >= $2 AND created_at < $3",
                )
                .bind(client_id)
                .bind(from.0)
                .bind(before.0)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn client_customers_page(
                &mut self,
                client_id: &str,
                from: UnixMillis,
                before: UnixMillis,
                after_id: &str,
                limit: i64,
            ) -> StoreResult<Vec<CustomerRecord>> {
                sqlx::query_as::<$db, CustomerRow>(
                    "SELECT id, client_id, wrapped_key, kek_version, fields, created_at, updated_at FROM customers \
                     WHERE client_id = $1 AND created_at >= $2 AND created_at < $3 AND id > $4 ORDER BY id LIMIT $5",
                )
                .bind(client_id)
                .bind(from.0)
                .bind(before.0)
                .bind(after_id)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(CustomerRecord::try_from)
                .collect()
            }

            async fn active_calls(&mut self, operator_id: &str) -> StoreResult<Vec<CallRecord>> {
                Ok(sqlx::query_as::<$db, (String, String, String, Vec<u8>, Option<String>, i64)>(
                    "SELECT id, external_id, operator_id, caller_digest, caller_masked, started_at FROM calls \
                     WHERE operator_id = $1 AND ended_at IS NULL ORDER BY started_at",
                )
                .bind(operator_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(|(id, external_id, operator_id, caller_digest, caller_masked, started)| CallRecord {
                    id,
                    external_id,
                    operator_id,
                    caller_digest,
                    caller_masked,
                    started_at: UnixMillis(started),
                    ended_at: None,
                })
                .collect())
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::VaultWrite for $handle {
            async fn insert_customers(&mut self, customers: &[NewCustomerRows]) -> StoreResult<()> {
                for chunk in customers.chunks(4000) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO customers (id, client_id, wrapped_key, kek_version, fields, created_at, updated_at) ",
                    );
                    q.push_values(chunk, |mut row, c| {
                        let r = &c.record;
                        row.push_bind(r.id.clone())
                            .push_bind(r.client_id.clone())
                            .push_bind(r.wrapped_key.clone())
                            .push_bind(i64::from(r.kek_version))
                            .push_bind(r.fields.clone())
                            .push_bind(r.created_at.0)
                            .push_bind(r.updated_at.0);
                    });
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                let index: Vec<(&str, &String, &Vec<u8>)> = customers
                    .iter()
                    .flat_map(|c| c.index.iter().map(move |(k, d)| (c.record.id.as_str(), k, d)))
                    .collect();
                for chunk in index.chunks(10000) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO customer_index (kind, digest, customer_id) ");
                    q.push_values(chunk, |mut row, (id, kind, digest)| {
                        row.push_bind((*kind).clone()).push_bind((*digest).clone()).push_bind(id.to_string());
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                Ok(())
            }

            async fn rewrap_customer(&mut self, id: &str, old: &[u8], new: &[u8], version: u32) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE customers SET wrapped_key = $3, kek_version = $4 WHERE id = $1 AND wrapped_key = $2",
                )
                .bind(id)
                .bind(old)
                .bind(new)
                .bind(i64::from(version))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn update_customer(
                &mut self,
                id: &str,
                fields: &[u8],
                index: &[(String, Vec<u8>)],
                now: UnixMillis,
            ) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("UPDATE customers SET fields = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(fields)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query::<$db>("DELETE FROM customer_index WHERE customer_id = $1")
                    .bind(id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                if !index.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO customer_index (kind, digest, customer_id) ");
                    q.push_values(index, |mut row, (kind, digest)| {
                        row.push_bind(kind.clone()).push_bind(digest.clone()).push_bind(id.to_owned());
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                Ok(true)
            }

            async fn delete_customer(&mut self, id: &str) -> StoreResult<bool> {
                sqlx::query::<$db>("DELETE FROM customer_index WHERE customer_id = $1")
                    .bind(id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                let done = sqlx::query::<$db>("DELETE FROM customers WHERE id = $1")
                    .bind(id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_call(&mut self, c: &CallRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO calls (id, external_id, operator_id, caller_digest, caller_masked, started_at, ended_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&c.id)
                .bind(&c.external_id)
                .bind(&c.operator_id)
                .bind(&c.caller_digest)
                .bind(&c.caller_masked)
                .bind(c.started_at.0)
                .bind(c.ended_at.map(|t| t.0))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn end_call(&mut self, external_id: &str, now: UnixMillis) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("UPDATE calls SET ended_at = $2 WHERE external_id = $1 AND ended_at IS NULL")
                    .bind(external_id)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use vault_queries;
