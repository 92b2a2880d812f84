//! One chat connection on the tokio adapter's split halves: the reader (this
//! task) hands each message to the hub and runs the connection's timers; a
//! writer task empties the client's queue into the `WriteHalf`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rfc6455::handshake::{Accept, Reject, UpgradeRequest};
use rfc6455::io::tokio::{WebSocketStream, WriteHalf};
use rfc6455::{CloseCode, Connection, Message, PreparedMessage, Role};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use tokio::time::timeout;

use crate::Server;
use crate::hub::Client;

/// Messages waiting for one client before it counts as too slow.
pub const QUEUE_BOUND: usize = 256;
/// Time one write may block before the client counts as gone.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages written at once before a flush.
const BATCH: usize = 64;

/// Checks the token, registers the client, answers 101 and runs the chat
/// until the connection ends: a close, the end of the stream, or the idle
/// timeout of a peer that went silent.
pub async fn run(
    server: &Server,
    mut stream: TcpStream,
    request: UpgradeRequest,
    leftover: &[u8],
) -> std::io::Result<()> {
    let name = request
        .query_param("token")
        .and_then(|token| server.signer.verify(&token));
    let refusal = match &name {
        _ if request.path() != "/" => Some((404, "no chat here")),
        None => Some((401, "missing or bad token: sign in first")),
        Some(_) => None,
    };
    if let Some((status, why)) = refusal {
        let mut reject = Reject::new(status).header("Content-Type", "text/plain");
        if status == 401 {
            reject = reject.header("WWW-Authenticate", "Bearer realm=\"chat\"");
        }
        let answer = request
            .reject(reject.body(why))
            .map_err(std::io::Error::other)?;
        return stream.write_all(&answer).await;
    }
    let name = name.unwrap_or_default();

    // Browsers offer permessage-deflate on every connection; the room
    // accepts it (messages under the default 1 KiB threshold still go out as
    // they are), answering `server_no_context_takeover` even when the page
    // did not ask for it (see `parse` in main.rs): then a message is
    // compressed once for every member, not once per connection.
    let deflate = server
        .config
        .deflate
        .and_then(|wanted| request.negotiate_deflate(&wanted));

    // Register before answering 101, so that a name cannot be taken twice.
    let (queue, outgoing) = mpsc::channel(QUEUE_BOUND);
    let kick = Arc::new(Notify::new());
    let client = Client {
        name: name.clone(),
        queue: queue.clone(),
        kick: Arc::clone(&kick),
    };
    // With `--redis`, the name is taken in Redis first: once everywhere.
    let history = match &server.cluster {
        None => Ok(None),
        Some(cluster) => match cluster.claim(&name).await {
            Ok(Some(history)) => Ok(Some(history)),
            Ok(None) => Err((409, "name already online")),
            Err(_) => Err((503, "Redis unavailable: try again")),
        },
    };
    let added = match history {
        Ok(history) => server
            .hub()
            .add(client, history)
            .ok_or((409, "name already online")),
        Err(refusal) => Err(refusal),
    };
    let id = match added {
        Ok(id) => id,
        // A claim that succeeded and then met the name online here is this
        // server's own: nothing to give back.
        Err((status, why)) => {
            let reject = Reject::new(status).header("Content-Type", "text/plain");
            let answer = request.reject(reject.body(why));
            return stream
                .write_all(&answer.map_err(std::io::Error::other)?)
                .await;
        }
    };
    let answer = request
        .accept(Accept::new().deflate(deflate))
        .map_err(std::io::Error::other);
    let accepted = match answer {
        Ok(answer) => stream.write_all(&answer).await,
        Err(e) => Err(e),
    };
    if let Err(e) = accepted {
        server.hub().remove(id);
        return Err(e);
    }
    eprintln!("chat: {name} connected");

    let mut connection = Connection::with_deflate(Role::Server, server.config, deflate);
    connection.receive(leftover);
    let ws = WebSocketStream::from_connection(stream, connection);
    let (mut read, write) = ws.into_split();
    let writer = tokio::spawn(write_loop(write, outgoing, kick));
    loop {
        // Back-pressure on a sender: while this client's own queue is over
        // half full (it reads the answers to what it sends slower than it
        // sends), read nothing more from it, so that TCP slows it down.
        // Bounded: a writer that stays stuck ends the connection.
        let deadline = Instant::now() + WRITE_TIMEOUT;
        while queue.capacity() < QUEUE_BOUND / 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        match read.next().await {
            Some(Ok(Message::Text(text))) => server.hub().handle(id, &text),
            Some(Ok(_)) => server.hub().error(id, "binary messages are not supported"),
            // An idle timeout (the peer went silent), a close timeout, or a
            // protocol error: the next `next` ends the connection.
            Some(Err(e)) => eprintln!("chat: {name}: {e}"),
            None => break,
        }
    }
    server.hub().remove(id);
    drop(queue);
    let _ = writer.await;
    eprintln!("chat: {name} disconnected");
    Ok(())
}

/// Writes what the hub queues for one client, in order, in batches. Told to
/// (`kick`), it closes with 1008 instead. Ends when the queue is closed (the
/// reader ended) or a write stays blocked for [`WRITE_TIMEOUT`].
async fn write_loop(
    mut write: WriteHalf<TcpStream>,
    mut outgoing: mpsc::Receiver<PreparedMessage>,
    kick: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let written = tokio::select! {
            biased;
            () = kick.notified() => break,
            count = outgoing.recv_many(&mut batch, BATCH) => {
                if count == 0 {
                    return;
                }
                let send = async {
                    for message in batch.drain(..) {
                        // The prepared frames are queued by handle: no
                        // framing, compressing or copying per client.
                        write.feed_prepared(&message).await?;
                    }
                    write.flush().await
                };
                tokio::select! {
                    biased;
                    () = kick.notified() => break,
                    result = timeout(WRITE_TIMEOUT, send) => matches!(result, Ok(Ok(()))),
                }
            }
        };
        if !written {
            return;
        }
    }
    // Too slow: the close goes after what is queued; the reader waits for
    // the answer (the close timeout bounds that).
    let _ = timeout(
        WRITE_TIMEOUT,
        write.close(CloseCode::PolicyViolation, "too slow"),
    )
    .await;
}
