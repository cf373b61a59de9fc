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
#[allow(dead_code)] // the fields are read once `start` and `answer` are written
pub struct Service {
    client: Client,
    requests: Subscriber,
}

impl Service {
    /// Subscribes `client` to `subject`. When this returns, the server knows about the
    /// subscription: a request sent from any other connection afterwards reaches it.
    pub async fn start(client: Client, subject: &str) -> Result<Service, async_nats::Error> {
        // TODO: subscribe, and return only once the server itself has the subscription.
        todo!("Service::start")
    }

    /// Answers the next `count` requests, each with its payload in upper case, sent to the
    /// request's reply subject. Returns the payloads it answered, in order.
    pub async fn answer(self, count: usize) -> Result<Vec<String>, async_nats::Error> {
        // TODO: take `count` requests from the subscription and reply to each.
        todo!("Service::answer")
    }
}

/// Sends `payload` as a request to `subject` and waits at most `timeout` for the reply.
pub async fn ask(
    client: &Client,
    subject: &str,
    payload: &str,
    timeout: Duration,
) -> Result<String, AskError> {
    // TODO: send the request with this timeout, and tell the failures apart.
    todo!("ask")
}
