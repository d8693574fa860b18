//! The readiness probe's view of the store.

use async_trait::async_trait;
use diesel::RunQueryDsl;
use payymo_ports::health::{DatabaseHealth, HealthError, PoolStatus};

use crate::DieselStore;
use crate::migrations;

#[async_trait]
impl DatabaseHealth for DieselStore {
    async fn ping(&self) -> Result<(), HealthError> {
        self.pool
            .run(|conn| {
                crate::dispatch!(conn, |c| diesel::sql_query("SELECT 1").execute(c))?;
                Ok(())
            })
            .await
            .map_err(|error| HealthError::Unreachable(error.to_string()))
    }

    async fn pending_migrations(&self) -> Result<Vec<String>, HealthError> {
        self.pool
            .run(migrations::pending)
            .await
            .map_err(|error| HealthError::Unreachable(error.to_string()))
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        let state = self.pool.state();
        Some(PoolStatus {
            connections: state.connections,
            idle: state.idle_connections,
            max_size: self.pool.max_size(),
        })
    }
}
