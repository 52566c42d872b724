//! A TCP relay in front of the test PostgreSQL that a test can cut and restore: a database
//! outage without touching the shared server.

use tokio::sync::watch;

pub struct Relay {
    /// `url` with its host and port replaced by the relay's.
    pub url: String,
    up: watch::Sender<bool>,
}

impl Relay {
    /// A relay to the server of `url` (`postgres://user@host:port/db`), passing traffic until cut.
    pub async fn start(url: &str) -> Relay {
        let target = url
            .split_once('@')
            .and_then(|(_, rest)| rest.split('/').next())
            .unwrap_or("127.0.0.1:5432")
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind relay");
        let port = listener.local_addr().expect("address").port();
        let (up, watching) = watch::channel(true);
        let relayed = url.replacen(&target, &format!("127.0.0.1:{port}"), 1);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*watching.borrow() {
                    continue; // cut: the connection closes at once
                }
                let mut watching = watching.clone();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watching.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Relay { url: relayed, up }
    }

    /// Closes every relayed connection and every new one, until `restore`.
    pub fn cut(&self) {
        let _ = self.up.send(false);
    }

    pub fn restore(&self) {
        let _ = self.up.send(true);
    }
}
