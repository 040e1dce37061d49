//! HTTPS to the server, pinned to the CA given at enrolment (no other root is trusted), every
//! request after enrolment signed with the device key.

use anyhow::{Context, Result, bail};
use mamori_crypto::device_auth::DeviceKey;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Why a request failed, as far as the agent's loop cares.
#[derive(Debug)]
pub enum SendError {
    /// The server refused the device (revoked, unknown): enrolling again is the only way on.
    Refused(String),
    /// Anything else (network, server down, a refused body): try again later.
    Other(anyhow::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Refused(why) => write!(f, "the server refused this device: {why}"),
            SendError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    server: String,
}

/// The PC's clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    crate::system_now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Client {
    /// A client that trusts only `ca_pem` (the server's CA, or its self-signed certificate).
    pub fn new(server: &str, ca_pem: &[u8]) -> Result<Client> {
        let server = server.trim_end_matches('/').to_owned();
        if !server.starts_with("https://") {
            bail!("the server address must start with https:// (agents talk to the server over TLS only)");
        }
        let ca = reqwest::Certificate::from_pem(ca_pem).context("the CA file is not a PEM certificate")?;
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .https_only(true)
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("mamori-agent/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client { http, server })
    }

    /// An unsigned request (enrolment).
    pub async fn post_unsigned<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, SendError> {
        let resp = self.http.post(format!("{}{path}", self.server)).json(body).send().await;
        answer(resp).await
    }

    /// A request signed with the device key.
    pub async fn post_signed<B: Serialize, R: DeserializeOwned>(
        &self,
        key: &DeviceKey,
        device_id: &str,
        path: &str,
        body: &B,
    ) -> Result<R, SendError> {
        let bytes = serde_json::to_vec(body).map_err(|e| SendError::Other(e.into()))?;
        let authorization = key
            .authorize(device_id, "POST", path, &bytes, now_ms())
            .map_err(|e| SendError::Other(e.into()))?;
        let resp = self
            .http
            .post(format!("{}{path}", self.server))
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes)
            .send()
            .await;
        answer(resp).await
    }
}

async fn answer<R: DeserializeOwned>(resp: reqwest::Result<reqwest::Response>) -> Result<R, SendError> {
    let resp =
        resp.map_err(|e| SendError::Other(anyhow::Error::new(e).context("could not reach the server")))?;
    let status = resp.status();
    if status.is_success() {
        return resp.json().await.map_err(|e| SendError::Other(e.into()));
    }
    let problem: serde_json::Value = resp.json().await.unwrap_or_default();
    let detail = problem["detail"].as_str().unwrap_or("no detail").to_owned();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::GONE {
        return Err(SendError::Refused(detail));
    }
    Err(SendError::Other(anyhow::anyhow!("the server answered {status}: {detail}")))
}
