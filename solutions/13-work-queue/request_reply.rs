//! Request and reply over core NATS, and what "at most once" means.
//!
//! Scenario: a service on one machine answers requests that clients on other machines send
//! through a NATS server. Nothing connects them but subjects: the client does not know whether
//! anyone listens, or whether the one who listens is alive, slow or gone. Core NATS keeps
//! nothing: a message is delivered to whoever is subscribed at the moment it passes through the
//! server, or to nobody.
//!
//! Goal: implement [`Service::start`], [`Service::answer`] and [`ask`]. The service answers each
//! request with its payload in upper case; `ask` sends one request and says precisely how it
//! failed when it did: nobody was there ([`AskError::NoResponders`]), or nobody answered in
//! time ([`AskError::TimedOut`]).
//!
//! Chapter: `docs/src/13-work-queue.md#request_reply`. Check it with `cargo xtask check work-queue/request_reply`.

use std::time::Duration;

use async_nats::{Client, Subscriber};
use futures_util::StreamExt;

/// Why [`ask`] got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AskError {
    /// The server knew at once that no one is subscribed to the subject (it answers such a
    /// request with a "no responders" status instead of dropping it).
    NoResponders,
    /// Someone is subscribed, but no reply came within the timeout.
    TimedOut,
    /// Anything else (the connection is gone, the reply was not UTF-8), with the reason.
    Other(String),
}

/// A service subscribed to one subject, ready to answer.
pub struct Service {
    client: Client,
    requests: Subscriber,
}

impl Service {
    /// Subscribes `client` to `subject`. When this returns, the server knows about the
    /// subscription: a request sent from any other connection afterwards reaches it.
    pub async fn start(client: Client, subject: &str) -> Result<Service, async_nats::Error> {
        let requests = client.subscribe(subject.to_string()).await?;
        // `subscribe` only queues the SUB for the connection's task, and `flush` only writes
        // it to the socket: neither waits for the server. The server handles one connection's
        // commands in order, so a message of ours that comes back through the server proves
        // it has processed the SUB before it; a request from another connection can no longer
        // find nobody there.
        let echo = client.new_inbox();
        let mut back = client.subscribe(echo.clone()).await?;
        client.publish(echo, "".into()).await?;
        back.next()
            .await
            .ok_or("the connection closed before the server confirmed the subscription")?;
        Ok(Service { client, requests })
    }

    /// Answers the next `count` requests, each with its payload in upper case, sent to the
    /// request's reply subject. Returns the payloads it answered, in order.
    pub async fn answer(mut self, count: usize) -> Result<Vec<String>, async_nats::Error> {
        let mut answered = Vec::with_capacity(count);
        while answered.len() < count {
            let Some(request) = self.requests.next().await else {
                return Err("the subscription ended (connection closed)".into());
            };
            let text = String::from_utf8_lossy(&request.payload).into_owned();
            // The requester waits on its own inbox, named in the request's reply subject: a
            // reply published to the request's subject would go back to this very service.
            let Some(reply) = request.reply else {
                continue;
            };
            self.client
                .publish(reply, text.to_uppercase().into())
                .await?;
            answered.push(text);
        }
        // Replies are queued in the client; the flush makes sure they left before we return.
        self.client.flush().await?;
        Ok(answered)
    }
}

/// Sends `payload` as a request to `subject` and waits at most `timeout` for the reply.
pub async fn ask(
    client: &Client,
    subject: &str,
    payload: &str,
    timeout: Duration,
) -> Result<String, AskError> {
    // The client's own default (`ConnectOptions::request_timeout`, 10 s) is not ours: the
    // request carries the caller's timeout.
    let request = async_nats::Request::new()
        .payload(payload.to_string().into())
        .timeout(Some(timeout));
    match client.send_request(subject.to_string(), request).await {
        Ok(reply) => String::from_utf8(reply.payload.to_vec())
            .map_err(|e| AskError::Other(format!("the reply is not UTF-8: {e}"))),
        Err(e) => Err(match e.kind() {
            async_nats::RequestErrorKind::NoResponders => AskError::NoResponders,
            async_nats::RequestErrorKind::TimedOut => AskError::TimedOut,
            _ => AskError::Other(e.to_string()),
        }),
    }
}
