//! Offers and answers in `Sec-WebSocket-Extensions` (RFC 7692 sections 5
//! and 7.1).

use std::fmt;

/// One offer's or answer's parameters, as the handshake parses them: names
/// and values, quotes removed.
pub type Params = [(String, Option<String>)];

/// The extension token, `permessage-deflate` (RFC 7692 section 7).
pub const EXTENSION_NAME: &str = "permessage-deflate";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// What this end wants from permessage-deflate, in either role.
///
/// A client offers it ([`offer`]); a server accepts the first offer it can
/// honour ([`accept_offer`]). The compression [`level`](Self::level) and the
/// [`min_size`](Self::min_size) threshold are this end's own business and are
/// never sent.
///
/// The defaults, and why:
///
/// - **context takeover on, both ways** (`*_no_context_takeover` false): each
///   message is compressed against the previous ones, which is where small
///   JSON messages gain the most. Set them to trade ratio for the memory of a
///   context kept between messages, or when secrets and attacker-chosen data
///   share a connection (RFC 7692 section 8).
/// - **15-bit windows** (`*_max_window_bits` 15): the largest and the one
///   every peer supports. A client offers `client_max_window_bits` without a
///   value, saying a server may ask for a smaller one.
/// - **level 6**: zlib's own default, the usual balance of ratio and speed.
/// - **`min_size` 1024 bytes**: shorter messages go out uncompressed, as in
///   Node's `ws`. Their gain is a few bytes, and a connection that only sends
///   short messages never allocates its compressor (about 370 KiB).
///
/// ```
/// use rfc6455::deflate::{offer, DeflateConfig};
///
/// assert_eq!(offer(&DeflateConfig::default()), "permessage-deflate; client_max_window_bits");
/// let config = DeflateConfig::default().client_no_context_takeover(true).level(1);
/// assert_eq!(
///     offer(&config),
///     "permessage-deflate; client_no_context_takeover; client_max_window_bits"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Server: always answer `server_no_context_takeover`, resetting its
    /// compressor after each message. Client: ask the server for it.
    /// Default false.
    pub server_no_context_takeover: bool,
    /// Client: offer `client_no_context_takeover`, and reset its compressor
    /// after each message. Server: ask the client for it in the answer.
    /// Default false.
    pub client_no_context_takeover: bool,
    /// The largest window, in bits (8 to 15), the server compresses with.
    /// Server: answer at most this. Client: ask for it when under 15.
    /// Default 15.
    pub server_max_window_bits: u8,
    /// Client: `None` does not offer `client_max_window_bits`, `Some(15)`
    /// offers it without a value, `Some(n)` offers `n` (8 to 15). Server: the
    /// largest window the client is asked to use, when the client offered
    /// the parameter (it cannot be asked otherwise, and the server then
    /// inflates with 15 bits). Default `Some(15)`.
    pub client_max_window_bits: Option<u8>,
    /// The zlib compression level, 0 (stored) to 9 (smallest). Default 6.
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed. Default
    /// 1024.
    pub min_size: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: Some(15),
            level: 6,
            min_size: 1024,
        }
    }
}

impl DeflateConfig {
    /// Shared mode: no context takeover either way (RFC 7692 section
    /// 7.1.1), so that a connection holds no compression state between
    /// messages. Compressors and inflaters are borrowed from a shared, bounded
    /// [`pool`](super::pool) for one message each and given back, and an
    /// idle connection costs about as much as an uncompressed one, at the price
    /// of ratio on small messages that resemble the previous ones.
    ///
    /// A server answers `server_no_context_takeover` and
    /// `client_no_context_takeover` whether or not the offer had them: a
    /// server may add `server_no_context_takeover` to its answer (section
    /// 7.1.1.1: "A server MAY include the server_no_context_takeover
    /// extension parameter in an extension negotiation response even if the
    /// extension negotiation offer being accepted by the response doesn't
    /// include" it) and `client_no_context_takeover` (section 7.1.1.2: "A
    /// server MAY include the client_no_context_takeover extension parameter
    /// in an extension negotiation response"), and the client is then bound
    /// not to use its previous messages. A client that keeps context anyway
    /// sends back-references into an empty window: the server's fresh
    /// inflater finds them invalid and the connection fails with 1007,
    /// never with data silently wrong.
    ///
    /// A client offers both parameters, and fails the connection if the
    /// answer leaves out `server_no_context_takeover` (section 7.1.1.1).
    ///
    /// ```
    /// use rfc6455::deflate::{accept_offer, offer, DeflateConfig};
    ///
    /// let shared = DeflateConfig::shared();
    /// let chromium = [("client_max_window_bits".to_owned(), None)];
    /// assert_eq!(
    ///     accept_offer(&chromium, &shared).unwrap().to_string(),
    ///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    /// );
    /// assert_eq!(
    ///     offer(&shared),
    ///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
    ///      client_max_window_bits"
    /// );
    /// ```
    pub fn shared() -> Self {
        DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
    }

    /// Dedicated mode: context takeover both ways with windows of at most
    /// `window_bits` (8 to 15; 8 is served by 9) for the server and, when
    /// the client offers `client_max_window_bits`, for the client (RFC 7692
    /// section 7.1.2).
    ///
    /// What a connection keeps between messages, from its first compressed
    /// message in each direction on:
    ///
    /// - for inflating, the last 2^bits bytes the client sent (bits as
    ///   agreed; 15 if the client did not offer `client_max_window_bits`);
    ///   the zlib state is borrowed from the [pool](super::pool) for each
    ///   message and primed with those bytes;
    /// - for compressing, at up to [`HISTORY_MAX_BITS`](super::HISTORY_MAX_BITS)
    ///   bits, likewise the last 2^bits bytes it sent; above, a compressor
    ///   of its own (zlib-rs's is at least 250 KiB at any window: a fixed
    ///   128 KiB hash table and 112 KiB of buffers at zlib's default memory
    ///   level).
    ///
    /// Heap of an idle server connection after two compressed messages
    /// each way, over the same connection without compression (512 B),
    /// counted by a counting allocator with zlib-rs 0.6.8 through flate2
    /// 1.1.11 at level 6 (`cargo test --test deflate_memory the_cost --
    /// --nocapture`):
    ///
    /// | window bits | compressor kept | inflater kept | idle connection |
    /// |---|---:|---:|---:|
    /// | 15 | 382,377 B | 32,899 B | 414,749 B (405 KiB) |
    /// | 14 | 316,841 B | 16,515 B | 332,829 B |
    /// | 13 | 284,073 B | 8,323 B | 291,869 B |
    /// | 12 | 267,689 B | 4,227 B | 271,389 B |
    /// | 11 | 259,497 B | 2,182 B | 261,149 B (255 KiB) |
    /// | 10 | history, 1 KiB | 1,158 B | 4,011 B |
    /// | 9 (8 is served as 9) | history, 512 B | 512 B | 3,056 B (3.0 KiB) |
    ///
    /// (The compressor column counts the sending side's buffers too, about
    /// 2 KiB.) While a message is being compressed or inflated, the
    /// connection also holds the borrowed state: 161 to 287 KiB for a
    /// compressor, 47 KiB for an inflater; the pool keeps at most
    /// [`pool::MAX_IDLE`](super::pool::MAX_IDLE) idle ones of each kind.
    ///
    /// ```
    /// use rfc6455::deflate::{accept_offer, DeflateConfig};
    ///
    /// let chromium = [("client_max_window_bits".to_owned(), None)];
    /// let agreed = accept_offer(&chromium, &DeflateConfig::dedicated(9)).unwrap();
    /// assert_eq!(
    ///     agreed.to_string(),
    ///     "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9"
    /// );
    /// ```
    pub fn dedicated(window_bits: u8) -> Self {
        DeflateConfig::default()
            .server_max_window_bits(window_bits)
            .client_max_window_bits(Some(window_bits))
    }

    /// Sets [`server_no_context_takeover`](Self::server_no_context_takeover).
    pub fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Sets [`client_no_context_takeover`](Self::client_no_context_takeover).
    pub fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// Sets [`server_max_window_bits`](Self::server_max_window_bits), clamped
    /// to 8..=15.
    pub fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = bits.clamp(8, 15);
        self
    }

    /// Sets [`client_max_window_bits`](Self::client_max_window_bits), a
    /// value clamped to 8..=15.
    pub fn client_max_window_bits(mut self, bits: Option<u8>) -> Self {
        self.client_max_window_bits = bits.map(|b| b.clamp(8, 15));
        self
    }

    /// Sets [`level`](Self::level), clamped to 0..=9.
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }

    /// Sets [`min_size`](Self::min_size).
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
        self
    }
}

/// The parameters both ends agreed on (RFC 7692 section 7.1): what each side
/// compresses with. Comes out of the handshake on both sides and goes into
/// [`Connection::with_deflate`](crate::Connection::with_deflate).
///
/// Its [`Display`](fmt::Display) is the server's answer, as written in
/// `Sec-WebSocket-Extensions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: u8,
    client_max_window_bits: u8,
    /// Whether the answer names `server_max_window_bits` even at 15 (it must
    /// when the offer had it, section 7.1.2.1).
    answer_server_bits: bool,
    /// Whether the answer names `client_max_window_bits`.
    answer_client_bits: bool,
}

impl DeflateParams {
    /// Whether the server resets its compression context after each message.
    pub fn server_no_context_takeover(&self) -> bool {
        self.server_no_context_takeover
    }

    /// Whether the client resets its compression context after each message.
    pub fn client_no_context_takeover(&self) -> bool {
        self.client_no_context_takeover
    }

    /// The largest window the server compresses with, 8 to 15 bits.
    pub fn server_max_window_bits(&self) -> u8 {
        self.server_max_window_bits
    }

    /// The largest window the client compresses with, 8 to 15 bits.
    pub fn client_max_window_bits(&self) -> u8 {
        self.client_max_window_bits
    }
}

impl fmt::Display for DeflateParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXTENSION_NAME)?;
        if self.server_no_context_takeover {
            write!(f, "; {SERVER_NO_CONTEXT_TAKEOVER}")?;
        }
        if self.client_no_context_takeover {
            write!(f, "; {CLIENT_NO_CONTEXT_TAKEOVER}")?;
        }
        if self.answer_server_bits || self.server_max_window_bits < 15 {
            write!(
                f,
                "; {SERVER_MAX_WINDOW_BITS}={}",
                self.server_max_window_bits
            )?;
        }
        if self.answer_client_bits {
            write!(
                f,
                "; {CLIENT_MAX_WINDOW_BITS}={}",
                self.client_max_window_bits
            )?;
        }
        Ok(())
    }
}

/// A server's answer that the client must refuse (RFC 7692 section 5:
/// the client "MUST _Fail the WebSocket Connection_").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The answer names permessage-deflate more than once.
    #[error("permessage-deflate accepted more than once")]
    RepeatedExtension,
    /// A parameter RFC 7692 does not define.
    #[error("unknown permessage-deflate parameter {0:?}")]
    UnknownParameter(String),
    /// A parameter given twice.
    #[error("permessage-deflate parameter {0} given twice")]
    RepeatedParameter(&'static str),
    /// A value where none is allowed, none where one is needed, or window
    /// bits that are not a decimal 8 to 15 without leading zeros.
    #[error("invalid value for permessage-deflate parameter {0}")]
    InvalidValue(&'static str),
    /// A parameter the client did not allow, such as
    /// `client_max_window_bits` when it was not offered.
    #[error("the server answered {0}, which the client did not offer")]
    UnofferedParameter(&'static str),
    /// A window larger than the one the client offered or asked for.
    #[error("the server answered {0} larger than offered")]
    WindowTooLarge(&'static str),
    /// A parameter the client asked for is missing from the answer.
    #[error("the server left out {0}, which the client asked for")]
    MissingParameter(&'static str),
}

/// The four parameters as written in one offer or answer.
#[derive(Default)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value.
    client_max_window_bits: Option<Option<u8>>,
}

/// Window bits as RFC 7692 section 7.1.2 writes them: "a decimal integer
/// value without leading zeros between 8 to 15, inclusive".
fn window_bits(value: &str) -> Option<u8> {
    let bytes = value.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 2
        && bytes[0] != b'0'
        && bytes.iter().all(u8::is_ascii_digit);
    let bits: u8 = if ok { value.parse().ok()? } else { return None };
    (8..=15).contains(&bits).then_some(bits)
}

/// Reads the parameters of one `permessage-deflate` element. Section 7:
/// an unknown parameter, a repeated one or an invalid value makes the
/// element invalid.
fn parse(params: &Params) -> Result<Parsed, NegotiationError> {
    let mut p = Parsed::default();
    for (name, value) in params {
        let name = name.as_str();
        let flag = |seen: bool, param: &'static str| {
            if seen {
                Err(NegotiationError::RepeatedParameter(param))
            } else if value.is_some() {
                Err(NegotiationError::InvalidValue(param))
            } else {
                Ok(true)
            }
        };
        if name.eq_ignore_ascii_case(SERVER_NO_CONTEXT_TAKEOVER) {
            p.server_no_context_takeover =
                flag(p.server_no_context_takeover, SERVER_NO_CONTEXT_TAKEOVER)?;
        } else if name.eq_ignore_ascii_case(CLIENT_NO_CONTEXT_TAKEOVER) {
            p.client_no_context_takeover =
                flag(p.client_no_context_takeover, CLIENT_NO_CONTEXT_TAKEOVER)?;
        } else if name.eq_ignore_ascii_case(SERVER_MAX_WINDOW_BITS) {
            if p.server_max_window_bits.is_some() {
                return Err(NegotiationError::RepeatedParameter(SERVER_MAX_WINDOW_BITS));
            }
            let bits = value.as_deref().and_then(window_bits);
            let bits = bits.ok_or(NegotiationError::InvalidValue(SERVER_MAX_WINDOW_BITS))?;
            p.server_max_window_bits = Some(bits);
        } else if name.eq_ignore_ascii_case(CLIENT_MAX_WINDOW_BITS) {
            if p.client_max_window_bits.is_some() {
                return Err(NegotiationError::RepeatedParameter(CLIENT_MAX_WINDOW_BITS));
            }
            let bits = match value {
                None => None,
                Some(value) => Some(
                    window_bits(value)
                        .ok_or(NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS))?,
                ),
            };
            p.client_max_window_bits = Some(bits);
        } else {
            return Err(NegotiationError::UnknownParameter(name.to_owned()));
        }
    }
    Ok(p)
}

/// The client's offer, the value of its `Sec-WebSocket-Extensions` header
/// (RFC 7692 section 5.1).
pub fn offer(config: &DeflateConfig) -> String {
    let mut out = String::from(EXTENSION_NAME);
    if config.server_no_context_takeover {
        out.push_str("; ");
        out.push_str(SERVER_NO_CONTEXT_TAKEOVER);
    }
    if config.client_no_context_takeover {
        out.push_str("; ");
        out.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
    }
    if config.server_max_window_bits < 15 {
        out.push_str(&format!(
            "; {SERVER_MAX_WINDOW_BITS}={}",
            config.server_max_window_bits.max(8)
        ));
    }
    match config.client_max_window_bits {
        None => {}
        Some(bits) if bits >= 15 => {
            out.push_str("; ");
            out.push_str(CLIENT_MAX_WINDOW_BITS);
        }
        Some(bits) => out.push_str(&format!("; {CLIENT_MAX_WINDOW_BITS}={}", bits.max(8))),
    }
    out
}

/// The server's decision on one `permessage-deflate` offer: the parameters
/// to answer, or `None` to decline it. An offer with an unknown or repeated
/// parameter or an invalid value is declined (RFC 7692 section 7: the
/// server must decline it); the handshake then tries the next offer, see
/// [`UpgradeRequest::negotiate_deflate`].
///
/// The answer takes the offer's `*_no_context_takeover` and adds the
/// server's own; it limits the server's window to the smaller of the offer's
/// `server_max_window_bits` and the config's, and asks the client for the
/// config's `client_max_window_bits` when the offer allows it.
///
/// ```
/// use rfc6455::deflate::{accept_offer, DeflateConfig};
///
/// let offer = [("client_max_window_bits".to_owned(), None)];
/// let agreed = accept_offer(&offer, &DeflateConfig::default()).unwrap();
/// assert_eq!(agreed.to_string(), "permessage-deflate");
/// let bad = [("server_max_window_bits".to_owned(), Some("08".to_owned()))];
/// assert_eq!(accept_offer(&bad, &DeflateConfig::default()), None);
/// ```
///
/// [`UpgradeRequest::negotiate_deflate`]: crate::handshake::UpgradeRequest::negotiate_deflate
pub fn accept_offer(offer: &Params, config: &DeflateConfig) -> Option<DeflateParams> {
    let p = parse(offer).ok()?;
    let server_bits = p
        .server_max_window_bits
        .unwrap_or(15)
        .min(config.server_max_window_bits.clamp(8, 15));
    let wanted_client_bits = config.client_max_window_bits.unwrap_or(15).clamp(8, 15);
    let (client_bits, answer_client_bits) = match p.client_max_window_bits {
        // Section 7.1.2.2: without the parameter in the offer the server
        // "MUST NOT include" it; the client may use 15 bits.
        None => (15, false),
        Some(offered) => {
            let bits = offered.unwrap_or(15).min(wanted_client_bits);
            (bits, bits < 15)
        }
    };
    Some(DeflateParams {
        server_no_context_takeover: p.server_no_context_takeover
            || config.server_no_context_takeover,
        client_no_context_takeover: p.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
        answer_server_bits: p.server_max_window_bits.is_some(),
        answer_client_bits,
    })
}

/// The client's check of the server's `permessage-deflate` answer against
/// what `config` offered, giving the agreed parameters.
///
/// Fails, and the client must fail the connection (RFC 7692 section 5),
/// when the answer has an unknown or repeated parameter or an invalid value,
/// returns `client_max_window_bits` that was not offered, a window larger
/// than offered, or leaves out a parameter the client asked for
/// (`server_no_context_takeover`, `server_max_window_bits`).
///
/// ```
/// use rfc6455::deflate::{check_answer, DeflateConfig, NegotiationError};
///
/// let config = DeflateConfig::default();
/// let answer = [("client_max_window_bits".to_owned(), Some("10".to_owned()))];
/// assert_eq!(check_answer(&answer, &config)?.client_max_window_bits(), 10);
///
/// let no_bits = config.client_max_window_bits(None);
/// assert_eq!(
///     check_answer(&answer, &no_bits),
///     Err(NegotiationError::UnofferedParameter("client_max_window_bits"))
/// );
/// # Ok::<(), NegotiationError>(())
/// ```
pub fn check_answer(
    answer: &Params,
    config: &DeflateConfig,
) -> Result<DeflateParams, NegotiationError> {
    let p = parse(answer)?;
    // Section 7.1.1.1: a server that accepts the request for
    // server_no_context_takeover includes it in the answer.
    if config.server_no_context_takeover && !p.server_no_context_takeover {
        return Err(NegotiationError::MissingParameter(
            SERVER_NO_CONTEXT_TAKEOVER,
        ));
    }
    // Section 7.1.2.1: a server that accepts a server_max_window_bits offer
    // answers it with the same or a smaller value.
    let asked_server_bits = config.server_max_window_bits.clamp(8, 15);
    let server_bits = match p.server_max_window_bits {
        Some(bits) if bits > asked_server_bits => {
            return Err(NegotiationError::WindowTooLarge(SERVER_MAX_WINDOW_BITS));
        }
        Some(bits) => bits,
        None if asked_server_bits < 15 => {
            return Err(NegotiationError::MissingParameter(SERVER_MAX_WINDOW_BITS));
        }
        None => 15,
    };
    // Section 7.1.2.2: the server may answer client_max_window_bits only
    // when the offer had it, with a value no larger than the offer's; the
    // client fails the connection otherwise.
    let offered_client_bits = config.client_max_window_bits.map(|b| b.clamp(8, 15));
    let client_bits = match (p.client_max_window_bits, offered_client_bits) {
        (None, offered) => offered.unwrap_or(15),
        (Some(_), None) => {
            return Err(NegotiationError::UnofferedParameter(CLIENT_MAX_WINDOW_BITS));
        }
        // In a response the parameter needs a value.
        (Some(None), Some(_)) => {
            return Err(NegotiationError::InvalidValue(CLIENT_MAX_WINDOW_BITS));
        }
        (Some(Some(bits)), Some(offered)) if bits > offered => {
            return Err(NegotiationError::WindowTooLarge(CLIENT_MAX_WINDOW_BITS));
        }
        (Some(Some(bits)), Some(_)) => bits,
    };
    Ok(DeflateParams {
        server_no_context_takeover: p.server_no_context_takeover,
        // Offering it is a promise the client keeps (section 7.1.1.2).
        client_no_context_takeover: p.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
        answer_server_bits: p.server_max_window_bits.is_some(),
        answer_client_bits: p.client_max_window_bits.is_some(),
    })
}

impl DeflateParams {
    /// The parameters of a given set of values, as a peer would agree them;
    /// for tests and for connections set up without a handshake. Window
    /// bits are clamped to 8..=15.
    pub fn new(
        server_no_context_takeover: bool,
        client_no_context_takeover: bool,
        server_max_window_bits: u8,
        client_max_window_bits: u8,
    ) -> Self {
        let server_max_window_bits = server_max_window_bits.clamp(8, 15);
        let client_max_window_bits = client_max_window_bits.clamp(8, 15);
        DeflateParams {
            server_no_context_takeover,
            client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
            answer_server_bits: false,
            answer_client_bits: client_max_window_bits < 15,
        }
    }
}

impl Default for DeflateParams {
    /// No parameter: context takeover both ways, 15-bit windows.
    fn default() -> Self {
        DeflateParams::new(false, false, 15, 15)
    }
}
