//! Sending text messages. One adapter talks to an HTTP SMS gateway; without one, messages
//! go to the log and to the developer mailbox (a table shown at /admin/mailbox), so a
//! demo or a development machine can read one-time codes without a phone.

use std::time::Duration;

use crate::config::Settings;
use crate::store::Db;

#[derive(Clone, Debug)]
pub enum SmsSender {
    /// Log + developer mailbox (no message leaves the machine).
    Mailbox,
    /// POST `{"to": "+66…", "text": "…"}` as JSON to `url`, with a bearer token if set.
    Gateway {
        url: String,
        token: String,
        client: reqwest::Client,
    },
}

impl SmsSender {
    pub fn from_settings(s: &Settings) -> SmsSender {
        if s.sms_gateway_url.trim().is_empty() {
            return SmsSender::Mailbox;
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        SmsSender::Gateway {
            url: s.sms_gateway_url.trim().to_string(),
            token: s.sms_gateway_token.clone(),
            client,
        }
    }

    pub fn is_mailbox(&self) -> bool {
        matches!(self, SmsSender::Mailbox)
    }

    /// Send `text` to `phone` (E.164). The error is a sentence for the log.
    pub async fn send(
        &self,
        db: &Db,
        tenant_id: i64,
        phone: &str,
        text: &str,
    ) -> Result<(), String> {
        match self {
            SmsSender::Mailbox => {
                // Neither the code nor the whole phone goes to the log.
                tracing::info!(
                    tenant_id,
                    to = %super::mask_phone(phone),
                    "text message put in the developer mailbox (no SMS gateway configured)"
                );
                super::store::insert_mailbox_message(db, tenant_id, phone, text)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(())
            }
            SmsSender::Gateway { url, token, client } => {
                let mut req = client
                    .post(url)
                    .json(&serde_json::json!({"to": phone, "text": text}));
                if !token.is_empty() {
                    req = req.bearer_auth(token);
                }
                let res = req
                    .send()
                    .await
                    .map_err(|e| format!("SMS gateway unreachable: {e}"))?;
                if res.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("SMS gateway answered {}", res.status()))
                }
            }
        }
    }
}

/// A message in the developer mailbox.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MailboxMessage {
    pub id: i64,
    pub phone: String,
    pub body: String,
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "crate::types::micros_as_rfc3339")]
    pub created_at: i64,
}

/// The latest messages of a shop's developer mailbox, newest first.
pub async fn mailbox(db: &Db, tenant_id: i64, limit: i64) -> sqlx::Result<Vec<MailboxMessage>> {
    super::store::mailbox_messages(db, tenant_id, limit).await
}
