//! Knowing when the log may have grown, so the projector follows it without busy polling.
//!
//! On PostgreSQL every append notifies [`LOG_CHANNEL`] when it commits (see
//! `bangfu_store::postgres`). [`LogWatch::postgres`] keeps one connection of its own listening
//! there and wakes [`LogWatch::changed`] at once. A notification is only a hint: `changed` also
//! returns after [`FALLBACK`], so a lost notification or a dropped connection delays the projector
//! by at most that, and a dropped connection is made again in the background (with a wake-up, since
//! appends may have been missed meanwhile).
//!
//! On SQLite there is no such channel between processes: [`LogWatch::poll`] just waits a fixed
//! interval ([`POLL`] is the usual one); reading the log's size is cheap.
//!
//! `changed` may return when nothing changed; callers read the log to find out. It is
//! cancel-safe, so it can sit in a `select!`: a wake-up it did not consume is kept for the next
//! call.

use bangfu_store::backend::{Result, StoreError};
use bangfu_store::postgres::{LOG_CHANNEL, describe, parse_url};
use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls, Socket};

/// The longest [`LogWatch::changed`] waits on PostgreSQL without a notification.
pub const FALLBACK: Duration = Duration::from_secs(1);

/// The usual polling interval for a SQLite log.
pub const POLL: Duration = Duration::from_millis(200);

/// How long to wait before making a dropped listening connection again.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// The longest a connection and its `LISTEN` may take.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(15);

/// Wakes the projector when the log may have grown.
pub struct LogWatch {
    how: How,
}

enum How {
    Poll(Duration),
    Listen {
        woken: Arc<Notify>,
        /// Listens and reconnects; ended when the watch is dropped.
        task: JoinHandle<()>,
    },
}

impl std::fmt::Debug for LogWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.how {
            How::Poll(every) => f.debug_tuple("LogWatch::Poll").field(every).finish(),
            How::Listen { .. } => f.write_str("LogWatch::Listen"),
        }
    }
}

impl Drop for LogWatch {
    fn drop(&mut self) {
        if let How::Listen { task, .. } = &self.how {
            // Dropping its connection closes the socket.
            task.abort();
        }
    }
}

type PgConnection = Connection<Socket, NoTlsStream>;

impl LogWatch {
    /// Wakes every `interval`: for a log without notifications (SQLite).
    pub fn poll(interval: Duration) -> LogWatch {
        LogWatch {
            how: How::Poll(interval),
        }
    }

    /// Listens on [`LOG_CHANNEL`] in the log's PostgreSQL database at `url`. Returns once the
    /// first `LISTEN` is in place, so no append committed after this returns goes unheard (short
    /// of a dropped connection, which [`FALLBACK`] covers).
    pub async fn postgres(url: &str) -> Result<LogWatch> {
        let mut config = parse_url(url, "bangfu-watch").map_err(|e| {
            StoreError::Unavailable(format!(
                "PostgreSQL 地址无效 / the PostgreSQL URL is not valid: {}",
                describe(&e)
            ))
        })?;
        // The socket is otherwise silent: keepalives notice a peer that vanished without a word
        // in about a minute rather than the kernel's two hours, so we reconnect.
        if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(Duration::from_secs(30));
            config.keepalives_interval(Duration::from_secs(10));
            config.keepalives_retries(3);
        }
        let first = listen(&config).await.map_err(|why| {
            StoreError::Unavailable(format!("无法监听账本 / cannot listen for appends: {why}"))
        })?;
        let woken = Arc::new(Notify::new());
        let task = tokio::spawn(keep_listening(config, first, Arc::clone(&woken)));
        Ok(LogWatch {
            how: How::Listen { woken, task },
        })
    }

    /// Returns when the log may have grown: on a notification, or after [`FALLBACK`] at the
    /// latest; when polling, after the interval.
    pub async fn changed(&mut self) {
        match &self.how {
            How::Poll(every) => tokio::time::sleep(*every).await,
            How::Listen { woken, .. } => {
                let _ = tokio::time::timeout(FALLBACK, woken.notified()).await;
            }
        }
    }
}

/// Connects and runs `LISTEN`, driving the connection meanwhile (requests are written by it).
async fn listen(config: &Config) -> std::result::Result<(Client, PgConnection), String> {
    let work = async {
        let (client, mut conn) = config.connect(NoTls).await.map_err(|e| describe(&e))?;
        {
            let sql = format!("LISTEN {LOG_CHANNEL}");
            let listening = client.batch_execute(&sql);
            tokio::pin!(listening);
            loop {
                tokio::select! {
                    done = &mut listening => {
                        done.map_err(|e| describe(&e))?;
                        break;
                    }
                    message = poll_fn(|cx| conn.poll_message(cx)) => match message {
                        // Notices; no notification can come before LISTEN.
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(describe(&e)),
                        None => return Err("the server closed the connection".into()),
                    },
                }
            }
        }
        Ok((client, conn))
    };
    tokio::time::timeout(LISTEN_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {LISTEN_TIMEOUT:?}")))
}

/// Forwards notifications to `woken` until the connection ends, then makes it again, forever.
async fn keep_listening(config: Config, first: (Client, PgConnection), woken: Arc<Notify>) {
    let mut current = Some(first);
    loop {
        if let Some((client, mut conn)) = current.take() {
            loop {
                match poll_fn(|cx| conn.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(n))) if n.channel() == LOG_CHANNEL => {
                        // One stored permit: a burst of appends is one wake-up.
                        woken.notify_one();
                    }
                    Some(Ok(_)) => {}
                    // Terminal: the connection is gone.
                    Some(Err(_)) | None => break,
                }
            }
            drop(client);
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
        if let Ok(pair) = listen(&config).await {
            // Appends committed while we were away were not heard.
            woken.notify_one();
            current = Some(pair);
        }
    }
}
