//! Shared helpers for the connection tests: hand-built frames and a client
//! and server driven against each other in memory, no sockets.
#![allow(dead_code)]

use rfc6455::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, Rsv};
use rfc6455::mask::apply_mask;
use rfc6455::time::Timestamp;
use rfc6455::{Config, Connection, Event, ProtocolError, Role};

pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame with any first byte (FIN, RSV, opcode as given), masked with `key`
/// if any, with the minimal length form.
pub fn raw_frame(first_byte: u8, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let opcode = OpCode::try_from(first_byte & 0x0F).unwrap_or(OpCode::Binary);
    let header = FrameHeader {
        fin: first_byte & 0x80 != 0,
        rsv: Rsv::from_bits(first_byte >> 4),
        opcode,
        mask: key,
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut out = head[..n].to_vec();
    // Keep reserved opcodes as given.
    out[0] = first_byte;
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = key {
        apply_mask(&mut out[start..], key);
    }
    out
}

/// A frame as a client sends it: masked.
pub fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    raw_frame(u8::from(fin) << 7 | opcode.as_u8(), Some(KEY), payload)
}

/// A frame as a server sends it: not masked.
pub fn server_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    raw_frame(u8::from(fin) << 7 | opcode.as_u8(), None, payload)
}

/// Every event until the connection needs more bytes, and the error if one
/// came.
pub fn drain<T: Timestamp>(connection: &mut Connection<T>) -> (Vec<Event>, Option<ProtocolError>) {
    let mut events = Vec::new();
    loop {
        match connection.poll_event() {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return (events, None),
            Err(error) => return (events, Some(error)),
        }
    }
}

/// A client and a server connection wired to each other in memory.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    pub client_error: Option<ProtocolError>,
    pub server_error: Option<ProtocolError>,
}

impl Pair {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        Pair {
            client: Connection::new(Role::Client, config),
            server: Connection::new(Role::Server, config),
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_error: None,
            server_error: None,
        }
    }

    /// Moves bytes both ways until neither side has anything to send.
    pub fn drive(&mut self) {
        for _ in 0..100 {
            let to_server = self.client.take_transmit();
            let to_client = self.server.take_transmit();
            if to_server.is_empty() && to_client.is_empty() {
                return;
            }
            self.server.receive(&to_server);
            let (events, error) = drain(&mut self.server);
            self.server_events.extend(events);
            self.server_error = self.server_error.or(error);
            self.client.receive(&to_client);
            let (events, error) = drain(&mut self.client);
            self.client_events.extend(events);
            self.client_error = self.client_error.or(error);
        }
        panic!("the pair did not settle in 100 rounds");
    }
}
