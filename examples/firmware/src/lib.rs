//! A WebSocket client inside a firmware: `#![no_std]` with `alloc`, time from
//! a millisecond tick counter, masking keys from the chip's random number
//! generator.
//!
//! This is a library module, not a program. The firmware owns the network
//! stack (smoltcp, lwIP, a modem's sockets), the timer and the generator; its
//! main loop calls in:
//!
//! ```text
//! let mut link = Link::connect("ws://10.0.0.2:9001/telemetry", move || trng.next_u32().to_ne_bytes())?;
//! loop {
//!     while let Some(bytes) = link.poll_transmit() { socket.write_all(&bytes) }
//!     match wait_for(socket_readable, link.next_wakeup_ms()) {
//!         Readable(n) => for command in link.receive(&buf[..n], millis())? { act_on(command) },
//!         Timer => link.tick(millis())?,
//!     }
//!     if sample_due { link.publish("temperature", reading_milli_celsius)? }
//!     if link.is_done() { socket.close(); break }
//! }
//! ```
//!
//! Built for a Cortex-M4F by CI (`cargo build --no-default-features --target
//! thumbv7em-none-eabihf --example no_std_firmware`), and for
//! `wasm32-unknown-unknown`; `scripts/size.sh` measures its code size.
#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::time::Duration;

use bytes::Bytes;
use rfc6455::handshake::{BuildError, ClientHandshake, ClientRequest, HandshakeError, Status};
use rfc6455::keys::KeySource;
use rfc6455::{Config, Connection, Event, Message, ProtocolError, SendError};

/// A telemetry link: readings out as text messages, commands in.
pub struct Link<K> {
    phase: Phase<K>,
}

enum Phase<K> {
    /// The request is written, then the server's answer read.
    Handshake {
        handshake: ClientHandshake,
        keys: K,
        request_sent: bool,
    },
    Open(Connection<Duration>),
    Failed,
}

/// Why the link ended.
#[derive(Debug)]
pub enum LinkError {
    /// The server refused the upgrade or broke a handshake rule.
    Handshake(HandshakeError),
    /// The server broke a framing rule, or a timer expired.
    Protocol(ProtocolError),
}

/// Limits for a device with a few tens of KiB of heap, and the timers for a
/// link behind NAT and proxies (see `Connection::poll_timeout`).
fn config() -> Config {
    Config::default()
        .max_frame_size(4 << 10)
        .max_message_size(4 << 10)
        .send_frame_size(1 << 10)
        .keepalive_interval(Duration::from_secs(30))
        .idle_timeout(Duration::from_secs(75))
        .close_timeout(Duration::from_secs(5))
}

impl<K: KeySource + Send + Sync + 'static> Link<K> {
    /// Starts the opening handshake to `url` (`ws://`; TLS, if any, is the
    /// firmware's, below this). `keys` is the hardware random number
    /// generator: it draws the handshake's nonce, then masks every frame.
    pub fn connect(url: &str, mut keys: K) -> Result<Self, BuildError> {
        let request = ClientRequest::new(url)?.protocol("telemetry.v1");
        let handshake = ClientHandshake::with_key_source(request, &mut keys)?;
        Ok(Link {
            phase: Phase::Handshake {
                handshake,
                keys,
                request_sent: false,
            },
        })
    }

    /// The next bytes to write to the socket, `None` when there are none.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        match &mut self.phase {
            Phase::Handshake {
                handshake,
                request_sent,
                ..
            } if !*request_sent => {
                *request_sent = true;
                Some(Bytes::copy_from_slice(handshake.request_bytes()))
            }
            Phase::Open(connection) => connection.poll_transmit(),
            _ => None,
        }
    }

    /// Bytes read from the socket at `now_ms` (milliseconds since boot);
    /// returns the text commands that arrived whole.
    pub fn receive(&mut self, bytes: &[u8], now_ms: u64) -> Result<Vec<String>, LinkError> {
        let now = Duration::from_millis(now_ms);
        if let Phase::Handshake { handshake, .. } = &mut self.phase {
            match handshake.receive(bytes) {
                Ok(Status::Partial) => return Ok(Vec::new()),
                Ok(Status::Complete(_response)) => self.open(now),
                Err(error) => {
                    self.phase = Phase::Failed;
                    return Err(LinkError::Handshake(error));
                }
            }
        } else if let Phase::Open(connection) = &mut self.phase {
            connection.receive_at(bytes, now);
        }
        self.commands()
    }

    /// The handshake is over: the connection takes the key source and the
    /// frames that came right behind the server's answer.
    fn open(&mut self, now: Duration) {
        let Phase::Handshake {
            handshake, keys, ..
        } = core::mem::replace(&mut self.phase, Phase::Failed)
        else {
            return;
        };
        let mut connection = Connection::client(config(), keys);
        connection.receive_at(&handshake.into_leftover(), now);
        self.phase = Phase::Open(connection);
    }

    /// Call at [`next_wakeup_ms`](Self::next_wakeup_ms): sends a keepalive
    /// ping, or ends the link on a timeout.
    pub fn tick(&mut self, now_ms: u64) -> Result<(), LinkError> {
        if let Phase::Open(connection) = &mut self.phase {
            connection.handle_timeout(Duration::from_millis(now_ms));
        }
        self.commands().map(drop)
    }

    /// When to call [`tick`](Self::tick), in milliseconds since boot.
    pub fn next_wakeup_ms(&self) -> Option<u64> {
        match &self.phase {
            Phase::Open(connection) => connection
                .poll_timeout()
                .map(|at| u64::try_from(at.as_millis()).unwrap_or(u64::MAX)),
            _ => None,
        }
    }

    /// Queues a reading as a text message: `{"sensor":"temperature","milli":21500}`.
    pub fn publish(&mut self, sensor: &str, milli: i32) -> Result<(), SendError> {
        let Phase::Open(connection) = &mut self.phase else {
            return Err(SendError::Closed);
        };
        let mut text = String::with_capacity(48);
        // Writing to a String cannot fail.
        let _ = write!(text, r#"{{"sensor":"{sensor}","milli":{milli}}}"#);
        connection.send_text(&text)
    }

    /// Whether the socket may be closed: the close handshake is over, or
    /// the link failed.
    pub fn is_done(&self) -> bool {
        match &self.phase {
            Phase::Open(connection) => connection.is_done(),
            Phase::Handshake { .. } => false,
            Phase::Failed => true,
        }
    }

    /// The text messages that arrived; pings are answered and the server's
    /// close is echoed by the connection itself.
    fn commands(&mut self) -> Result<Vec<String>, LinkError> {
        let Phase::Open(connection) = &mut self.phase else {
            return Ok(Vec::new());
        };
        let mut commands = Vec::new();
        loop {
            match connection.poll_event() {
                Ok(Some(Event::Message(Message::Text(text)))) => {
                    commands.push(String::from(&*text))
                }
                Ok(Some(_)) => {}
                Ok(None) => return Ok(commands),
                Err(error) => return Err(LinkError::Protocol(error)),
            }
        }
    }
}

/// What a firmware image puts around the module, for `scripts/size.sh`: a
/// panic handler, a heap (never initialised: the image is measured, not
/// run), and the module's entry points kept through link-time optimisation.
#[cfg(feature = "measure")]
mod image {
    use super::*;

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        loop {
            core::hint::spin_loop();
        }
    }

    #[global_allocator]
    static HEAP: embedded_alloc::LlffHeap = embedded_alloc::LlffHeap::empty();

    /// The generator, as a plain function of the board support crate.
    type Keys = fn() -> [u8; 4];

    type EntryPoints = (
        fn(&str, Keys) -> Result<Link<Keys>, BuildError>,
        fn(&mut Link<Keys>) -> Option<Bytes>,
        fn(&mut Link<Keys>, &[u8], u64) -> Result<Vec<String>, LinkError>,
        fn(&mut Link<Keys>, u64) -> Result<(), LinkError>,
        fn(&Link<Keys>) -> Option<u64>,
        fn(&mut Link<Keys>, &str, i32) -> Result<(), SendError>,
        fn(&Link<Keys>) -> bool,
    );

    #[used]
    static ENTRY_POINTS: EntryPoints = (
        Link::connect,
        Link::poll_transmit,
        Link::receive,
        Link::tick,
        Link::next_wakeup_ms,
        Link::publish,
        Link::is_done,
    );
}
