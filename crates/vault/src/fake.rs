//! A fake HTTP server for unit tests.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server on loopback answering every connection with `answer` (after reading the request
/// head) and closing it, or never answering when `answer` is `None`; returns `http://addr`.
pub(crate) async fn fake_server(answer: Option<Vec<u8>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = conn.read(&mut buf).await;
                match answer {
                    Some(bytes) => {
                        let _ = conn.write_all(&bytes).await;
                        let _ = conn.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    format!("http://{addr}")
}
