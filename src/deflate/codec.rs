//! The payload codec: raw DEFLATE with a sync flush per message, the
//! trailing `00 00 ff ff` stripped and restored (RFC 7692 section 7.2).

use flate2::{Decompress, FlushDecompress, Status};
use zlib_rs::{Deflate, DeflateConfig as ZlibConfig, DeflateFlush};

use super::pool;

/// The end of a sync flush, removed by the sender and appended by the
/// receiver (RFC 7692 sections 7.2.1 and 7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The smallest window zlib can write raw DEFLATE with. Asked for 8 bits,
/// the compressor uses 9: its longest match distance is then 250 bytes
/// (2^9 minus zlib's 262-byte lookahead), within an 8-bit window. flate2
/// asserts on 8, so the value never reaches it.
const MIN_ZLIB_BITS: u8 = 9;

/// The first reservation for a message's inflated bytes.
const FIRST_GROWTH: usize = 1024;

/// How much larger than its compressed bytes a message is guessed to be when
/// its buffer first grows: JSON and text often inflate 5 to 8 times, and a
/// guess too small costs a copy of everything inflated so far. What is
/// reserved beyond the message is given back when it ends
/// ([`Inflater::finish`]).
const GUESSED_RATIO: usize = 8;

/// zlib's memory level (1 to 9) of the compressors a [`Deflater`] owns:
/// zlib's default, as flate2 builds them. It sizes the symbol buffer of a
/// block (2^(level + 6) symbols) and the pending output with it.
const OWNED_MEM_LEVEL: i32 = 8;

/// zlib's memory level of the compressors borrowed from the
/// [`pool`](super::pool) for one message. zlib-rs clears the symbol buffer
/// (3 bytes a symbol) whenever a block starts, twice per message for a
/// state that is reset after every message; at level 8 that is 2 × 48 KiB
/// of stores per message, however short. At 6 a block holds 4,096 symbols
/// (12 KiB): a message of fewer symbols (JSON of up to several KiB) is
/// compressed to the same bytes, a longer one gets a block header every
/// 4,096 symbols. For 1 KiB of JSON in shared mode a server spends about
/// 10% less CPU per echoed message than at 8, and a pooled 15-bit
/// compressor holds 287 KiB instead of 371 KiB (`benches/RESULTS.md`).
pub(super) const POOLED_MEM_LEVEL: i32 = 6;

/// A raw-DEFLATE compressor of zlib-rs, called directly rather than through
/// flate2, whose `Compress` fixes zlib's memory level at 8.
pub(super) struct Compressor(Deflate);

impl Compressor {
    pub(super) fn new(level: u32, window_bits: u8, mem_level: i32) -> Self {
        Compressor(Deflate::new_with_config(ZlibConfig {
            level: level as i32,
            // Negative: raw DEFLATE, no zlib header.
            window_bits: -i32::from(window_bits),
            mem_level,
            ..ZlibConfig::default()
        }))
    }

    pub(super) fn reset(&mut self) {
        self.0.reset();
    }

    fn set_dictionary(&mut self, dictionary: &[u8]) -> Result<(), CompressError> {
        self.0
            .set_dictionary(dictionary)
            .map(drop)
            .map_err(|_| CompressError)
    }

    /// Compresses what it can of `input` with a sync flush into the spare
    /// room of `out` up to `room` bytes past its end (zeroed first: at most
    /// the message's size and a little, where a reset costs tens of KiB of
    /// stores); returns the input bytes used.
    fn compress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<usize, CompressError> {
        let start = out.len();
        let (before_in, before_out) = (self.0.total_in(), self.0.total_out());
        out.resize(start + room, 0);
        let result = self
            .0
            .compress(input, &mut out[start..], DeflateFlush::SyncFlush);
        let written = (self.0.total_out() - before_out) as usize;
        out.truncate(start + written.min(room));
        result.map_err(|_| CompressError)?;
        Ok((self.0.total_in() - before_in) as usize)
    }
}

/// The last bytes of one direction's uncompressed data, at most one window:
/// all that a side which takes over its context (RFC 7692 section 7.1.1)
/// can refer back to. Between messages this is the whole of the context, so
/// a connection keeps it instead of a zlib state: the state comes from the
/// [`pool`](super::pool) for one message and is primed with these bytes as
/// its dictionary. A deflate stream cut by a sync flush sits at a byte-aligned
/// block boundary, where the next block may refer back up to a window
/// and carries nothing else over.
struct History {
    bytes: Vec<u8>,
    window: usize,
}

impl History {
    fn new(window_bits: u8) -> Self {
        History {
            bytes: Vec::new(),
            window: 1 << window_bits,
        }
    }

    /// Appends `data`, keeping only the last window of bytes.
    fn push(&mut self, data: &[u8]) {
        if self.bytes.capacity() == 0 && !data.is_empty() {
            self.bytes.reserve_exact(self.window);
        }
        if data.len() >= self.window {
            self.bytes.clear();
            self.bytes
                .extend_from_slice(&data[data.len() - self.window..]);
            return;
        }
        let excess = (self.bytes.len() + data.len()).saturating_sub(self.window);
        self.bytes.drain(..excess);
        self.bytes.extend_from_slice(data);
    }

    /// Forgets everything: the context starts again (a block with BFINAL
    /// set ended the stream, or the message failed). Keeps the allocation.
    fn clear(&mut self) {
        self.bytes.clear();
    }
}

/// Inflated data that cannot be accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InflateError {
    /// The payload is not valid DEFLATE data: 1007, the code for data that
    /// is not what the message says it is (RFC 6455 section 7.4.1).
    #[error("corrupt DEFLATE data")]
    Corrupt,
    /// The message inflates past the limit: 1009. `len` is how far it got.
    #[error("inflated message of {len} bytes or more exceeds the limit of {max}")]
    TooBig {
        /// Inflated bytes when the limit was crossed.
        len: u64,
        /// The limit.
        max: u64,
    },
}

/// The backend failed to compress; not the peer's doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("compression failed")]
pub struct CompressError;

/// Inflates the payloads of compressed messages, chunk by chunk, as they
/// arrive (RFC 7692 section 7.2.2).
///
/// Allocates nothing until the first compressed byte. The output never
/// grows past the limit plus one byte, so a decompression bomb costs at most
/// the limit before it fails.
///
/// An inflater holds its zlib state only while a message is open: it
/// borrows it from the shared [`pool`](super::pool) on the message's first
/// byte and gives it back, reset, when the message ends or fails (corrupt
/// data, too big) and when the inflater is dropped. For a peer that takes
/// over its context (RFC 7692 section 7.1.1) it keeps, between messages,
/// the last window of inflated bytes (2^`window_bits`), and gives them to
/// the next message's state as its dictionary.
///
/// ```
/// use rfc6455::deflate::Inflater;
///
/// // RFC 7692 section 7.2.3.1: "Hello", compressed.
/// let mut inflater = Inflater::new(15, false);
/// let mut out = Vec::new();
/// let ok = |_: &[u8]| Ok::<(), rfc6455::deflate::InflateError>(());
/// inflater.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 1024, ok)?;
/// inflater.finish(&mut out, 1024, ok)?;
/// assert_eq!(out, b"Hello");
/// # Ok::<(), rfc6455::deflate::InflateError>(())
/// ```
pub struct Inflater {
    state: Option<Decompress>,
    window_bits: u8,
    /// The peer's last window of inflated bytes, if it takes over its
    /// context; `None` if every message starts from an empty window.
    history: Option<History>,
    /// A block with BFINAL set ended the stream inside this message.
    ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("allocated", &self.state.is_some())
            .field("window_bits", &self.window_bits)
            .field("context_takeover", &self.history.is_some())
            .finish()
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        self.release();
    }
}

impl Inflater {
    /// An inflater for a peer that compresses with at most `window_bits`
    /// (8 to 15) and, if `no_context_takeover`, resets after each message.
    ///
    /// Every message is inflated with a 15-bit state from the shared
    /// [`pool`](super::pool): any window at least as large as the peer's
    /// decodes its data, so one kind of pooled state serves every peer. A
    /// peer that takes over its context costs 2^`window_bits` bytes of
    /// history between messages.
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        let window_bits = window_bits.clamp(MIN_ZLIB_BITS, 15);
        Inflater {
            state: None,
            window_bits,
            history: (!no_context_takeover).then(|| History::new(window_bits)),
            ended: false,
        }
    }

    /// Inflates the next piece of a message's payload, appending to `out`,
    /// and hands each newly inflated piece to `check` (a UTF-8 validator,
    /// say) before inflating more. Fails with [`InflateError::TooBig`] as
    /// soon as `out` would pass `max` bytes.
    ///
    /// The work is bounded: each round either consumes input or adds output,
    /// and output stops at `max`.
    pub fn inflate<E: From<InflateError>>(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
        check: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.run(input, out, max, check)
    }

    /// Ends the message: inflates the `00 00 ff ff` the sender stripped,
    /// and gives the state back to the pool. The context starts again if
    /// the peer does not take it over or its stream ended (a block with
    /// BFINAL set, RFC 7692 section 7.2.3.4).
    pub fn finish<E: From<InflateError>>(
        &mut self,
        out: &mut Vec<u8>,
        max: usize,
        check: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let result = self.run(&TAIL, out, max, check);
        if self.ended {
            self.reset();
        } else {
            self.release();
        }
        // Give back what a generous guess reserved: shrinking is in place.
        if result.is_ok() && out.capacity() - out.len() > out.len() / 4 + 64 {
            out.shrink_to_fit();
        }
        result
    }

    /// Drops the context: the state goes back to the pool and the history
    /// is forgotten.
    pub fn reset(&mut self) {
        self.release();
        if let Some(history) = self.history.as_mut() {
            history.clear();
        }
        self.ended = false;
    }

    /// Gives the state back to the pool, reset; the history stays.
    fn release(&mut self) {
        if let Some(state) = self.state.take() {
            pool::give_inflater(state);
        }
    }

    /// Whether a zlib state is held: while a message is open.
    pub fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Bytes of history kept between messages for a peer that takes over
    /// its context: at most 2^`window_bits`, zero without context takeover.
    pub fn history_len(&self) -> usize {
        self.history.as_ref().map_or(0, |h| h.bytes.len())
    }

    /// [`Self::run_state`], giving the state back and forgetting the context
    /// when the message fails: it is not finished, and the connection is
    /// failed with it.
    fn run<E: From<InflateError>>(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
        check: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let result = self.run_state(input, out, max, check);
        if result.is_err() {
            self.reset();
        }
        result
    }

    fn run_state<E: From<InflateError>>(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
        mut check: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.ended || input.is_empty() {
            // Bytes after a block with BFINAL set (RFC 7692 section
            // 7.2.3.4) are ignored until the message ends.
            return Ok(());
        }
        let state = match self.state.as_mut() {
            Some(state) => state,
            None => {
                let mut state = pool::take_inflater();
                if let Some(history) = self.history.as_ref().filter(|h| !h.bytes.is_empty()) {
                    state
                        .set_dictionary(&history.bytes)
                        .map_err(|_| InflateError::Corrupt)?;
                }
                self.state.insert(state)
            }
        };
        loop {
            if out.capacity() == 0 {
                grow(out, max, input.len(), 1)?;
            }
            let before_in = state.total_in();
            let before_out = out.len();
            let status = if out.len() < out.capacity() {
                state.decompress_vec(input, out, FlushDecompress::Sync)
            } else {
                // A full buffer: probe into a small one before growing, as
                // the rest (often just the tail) may add nothing.
                let mut spare = [0u8; 64];
                let before = state.total_out();
                let status = state.decompress(input, &mut spare, FlushDecompress::Sync);
                let produced = (state.total_out() - before) as usize;
                if out.len() + produced > max {
                    return Err(too_big(out.len() + produced, max).into());
                }
                if produced > 0 {
                    grow(out, max, input.len(), produced)?;
                    out.extend_from_slice(&spare[..produced]);
                }
                status
            }
            .map_err(|_| InflateError::Corrupt)?;
            let used = (state.total_in() - before_in) as usize;
            input = &input[used.min(input.len())..];
            if out.len() > max {
                return Err(too_big(out.len(), max).into());
            }
            if out.len() > before_out {
                check(&out[before_out..])?;
                if let Some(history) = self.history.as_mut() {
                    history.push(&out[before_out..]);
                }
            }
            if status == Status::StreamEnd {
                self.ended = true;
                return Ok(());
            }
            let room = out.len() < out.capacity();
            let progress = used > 0 || out.len() > before_out;
            if !progress || (room && input.is_empty()) {
                // Waiting for input, or all of it inflated. A full buffer
                // loops: the next round probes for more.
                return Ok(());
            }
        }
    }
}

fn too_big(len: usize, max: usize) -> InflateError {
    InflateError::TooBig {
        len: len as u64,
        max: max as u64,
    }
}

/// Makes room for at least `needed` more bytes: doubling, or a guess from
/// the compressed bytes left, but never past `max + 1` (one byte over is
/// enough to know the message is too big).
fn grow(
    out: &mut Vec<u8>,
    max: usize,
    input_left: usize,
    needed: usize,
) -> Result<(), InflateError> {
    let ceiling = max.saturating_add(1);
    let target = out
        .capacity()
        .saturating_mul(2)
        .max(FIRST_GROWTH)
        .max(input_left.saturating_mul(GUESSED_RATIO))
        .min(ceiling)
        .max(out.len().saturating_add(needed).min(ceiling));
    if target <= out.len() {
        return Err(too_big(out.len(), max));
    }
    out.reserve_exact(target - out.len());
    Ok(())
}

/// Compresses message payloads (RFC 7692 section 7.2.1): each call ends
/// with a sync flush, and the last piece of a message has its
/// `00 00 ff ff` removed.
///
/// Allocates nothing until the first call. Then, by mode:
///
/// - With `no_context_takeover` (RFC 7692 section 7.1.1), the zlib state is
///   borrowed from the shared [`pool`](super::pool) for one message and
///   given back, reset, when the message's last piece is compressed, when
///   compressing fails, or when the deflater is dropped mid-message.
/// - With context takeover and a window of at most
///   [`HISTORY_MAX_BITS`] bits, the state is borrowed the same way, and the
///   deflater keeps, between messages, the last window of bytes it
///   compressed (2^`window_bits`), given to the next message's state as its
///   dictionary: the message may refer back to them, as the peer's
///   inflater, which kept the same bytes, expects.
/// - With context takeover and a larger window, the deflater owns its
///   state for its life: priming a pooled state with a 4 KiB to 32 KiB
///   dictionary at every message costs more than compressing a small
///   message (1.4 times the time at 12 bits, 2.5 times at 15 for 1 KiB
///   of JSON in `benches/deflate.rs`).
///
/// ```
/// use rfc6455::deflate::Deflater;
///
/// let mut deflater = Deflater::new(6, 15, false);
/// let mut out = Vec::new();
/// deflater.compress(b"Hello", true, &mut out)?;
/// // RFC 7692 section 7.2.3.1.
/// assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
/// # Ok::<(), rfc6455::deflate::CompressError>(())
/// ```
pub struct Deflater {
    state: Option<Compressor>,
    level: u32,
    window_bits: u8,
    /// The last window of compressed bytes, with context takeover at a
    /// small window; `None` otherwise.
    history: Option<History>,
    /// The state comes from the pool for one message (no context takeover,
    /// or a history); otherwise it is the deflater's own.
    pooled: bool,
}

/// The largest window at which a [`Deflater`] with context takeover keeps
/// a history and borrows its state from the pool, rather than owning a
/// state: up to this size, priming a state with the history costs little
/// next to compressing a message, and the state's 250 KiB (a 128 KiB hash
/// table and zlib's buffers, whatever the window) are not held per
/// connection.
pub const HISTORY_MAX_BITS: u8 = 10;

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("allocated", &self.state.is_some())
            .field("level", &self.level)
            .field("window_bits", &self.window_bits)
            .field("context_takeover", &self.history.is_some())
            .finish()
    }
}

impl Drop for Deflater {
    fn drop(&mut self) {
        self.release();
    }
}

impl Deflater {
    /// A compressor at `level` (0 to 9) with at most `window_bits` (8 to
    /// 15; 8 is served by 9, see the module docs), resetting after each
    /// message if `no_context_takeover`.
    pub fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Self {
        let window_bits = window_bits.clamp(MIN_ZLIB_BITS, 15);
        let history = !no_context_takeover && window_bits <= HISTORY_MAX_BITS;
        Deflater {
            state: None,
            level: level.min(9),
            window_bits,
            history: history.then(|| History::new(window_bits)),
            pooled: no_context_takeover || history,
        }
    }

    /// Gives a pooled state back to the pool, reset; the history stays.
    fn release(&mut self) {
        if self.pooled
            && let Some(state) = self.state.take()
        {
            pool::give_compressor(self.level, self.window_bits, state);
        }
    }

    /// Compresses `input`, one fragment of a message or all of it,
    /// appending to `out`. `last` ends the message: the trailing
    /// `00 00 ff ff` is removed, and an empty result becomes the single byte
    /// `00` (an empty stored block's start, which the receiver's appended
    /// tail completes).
    pub fn compress(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), CompressError> {
        let result = self.compress_state(input, last, out);
        match self.history.as_mut() {
            Some(history) if result.is_ok() => history.push(input),
            // The peer cannot have the bytes of a failed message.
            Some(history) => history.clear(),
            None => {}
        }
        if result.is_err() || last {
            // The message is over, one way or the other.
            self.release();
        }
        result
    }

    fn compress_state(
        &mut self,
        mut input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), CompressError> {
        let state = match self.state.as_mut() {
            Some(state) => state,
            None if !self.pooled => self.state.insert(Compressor::new(
                self.level,
                self.window_bits,
                OWNED_MEM_LEVEL,
            )),
            None => {
                let mut state = pool::take_compressor(self.level, self.window_bits);
                if let Some(history) = self.history.as_ref().filter(|h| !h.bytes.is_empty()) {
                    state.set_dictionary(&history.bytes)?;
                }
                self.state.insert(state)
            }
        };
        let start = out.len();
        // A sync flush adds a few bytes per 16 KiB block and at the end.
        let mut room = input.len() + input.len() / 256 + 16;
        loop {
            let before_out = out.len();
            let used = state.compress(input, out, room)?;
            input = &input[used.min(input.len())..];
            let full = out.len() - before_out == room;
            let progress = used > 0 || out.len() > before_out;
            if !full && (input.is_empty() || !progress) {
                break;
            }
            if full {
                room = room.max(64) * 2;
            }
        }
        if last {
            if out[start..].ends_with(&TAIL) {
                out.truncate(out.len() - TAIL.len());
            }
            if out.len() == start {
                out.push(0x00);
            }
        }
        Ok(())
    }

    /// Whether a zlib state is held: from the first call on for a deflater
    /// that owns its state (context takeover with more than
    /// [`HISTORY_MAX_BITS`]), otherwise while a fragmented message is being
    /// compressed.
    pub fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Bytes of history kept between messages with context takeover at a
    /// window of at most [`HISTORY_MAX_BITS`]: at most 2^`window_bits`;
    /// zero otherwise.
    pub fn history_len(&self) -> usize {
        self.history.as_ref().map_or(0, |h| h.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::FlushCompress;

    fn ok(_: &[u8]) -> Result<(), InflateError> {
        Ok(())
    }

    fn inflate_message(
        inflater: &mut Inflater,
        payload: &[u8],
        max: usize,
    ) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        inflater.inflate(payload, &mut out, max, ok)?;
        inflater.finish(&mut out, max, ok)?;
        Ok(out)
    }

    #[test]
    fn output_never_grows_past_the_limit() {
        let mut deflater = Deflater::new(9, 15, false);
        let mut payload = Vec::new();
        deflater
            .compress(&[b'a'; 100_000], true, &mut payload)
            .unwrap();
        for max in [0, 1, 1000, 99_999] {
            let mut inflater = Inflater::new(15, false);
            let mut out = Vec::new();
            let error = inflater.inflate(&payload, &mut out, max, ok).unwrap_err();
            assert!(
                matches!(error, InflateError::TooBig { len, max: m } if len > max as u64 && m == max as u64),
                "{error:?}"
            );
            assert!(
                out.capacity() <= max + 1,
                "{max}: capacity {}",
                out.capacity()
            );
        }
        let mut inflater = Inflater::new(15, false);
        assert_eq!(
            inflate_message(&mut inflater, &payload, 100_000)
                .unwrap()
                .len(),
            100_000
        );
    }

    #[test]
    fn the_check_sees_every_inflated_byte_and_can_stop_it() {
        let text = "é".repeat(10_000);
        let mut deflater = Deflater::new(6, 15, false);
        let mut payload = Vec::new();
        deflater
            .compress(text.as_bytes(), true, &mut payload)
            .unwrap();
        let mut seen = 0;
        let mut inflater = Inflater::new(15, false);
        let mut out = Vec::new();
        inflater
            .inflate(&payload, &mut out, usize::MAX, |piece: &[u8]| {
                seen += piece.len();
                Ok::<(), InflateError>(())
            })
            .unwrap();
        assert_eq!(seen, out.len());
        let mut inflater = Inflater::new(15, false);
        let mut out = Vec::new();
        let stop = |_: &[u8]| Err(InflateError::Corrupt);
        assert_eq!(
            inflater.inflate(&payload, &mut out, usize::MAX, stop),
            Err(InflateError::Corrupt)
        );
    }

    #[test]
    fn after_a_final_block_the_context_starts_again() {
        // RFC 7692 section 7.2.3.4, then section 7.2.3.1's "Hello".
        let mut inflater = Inflater::new(15, false);
        let bfinal = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(
            inflate_message(&mut inflater, &bfinal, 100).unwrap(),
            b"Hello"
        );
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(
            inflate_message(&mut inflater, &hello, 100).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn a_message_that_fills_its_buffer_exactly() {
        // 1024 bytes from a few compressed ones fill the first reservation
        // exactly: the tail goes through the small buffer, and the context
        // goes on.
        let mut deflater = Deflater::new(6, 15, false);
        let mut inflater = Inflater::new(15, false);
        for len in [1024, 2048, 5, 1024] {
            let text = vec![b'a'; len];
            let mut payload = Vec::new();
            deflater.compress(&text, true, &mut payload).unwrap();
            let mut out = Vec::new();
            inflater
                .inflate(&payload, &mut out, usize::MAX, ok)
                .unwrap();
            let full = out.len() == out.capacity();
            inflater.finish(&mut out, usize::MAX, ok).unwrap();
            assert_eq!(out, text, "{len}");
            if len == 1024 {
                assert!(full, "the case under test: a full buffer before the tail");
            }
        }
    }

    #[test]
    fn corrupt_data_is_an_error_not_a_panic() {
        for bad in [&[0xff, 0xff][..], &[0x07], &[0x00, 0x01, 0x00, 0x00, 0x00]] {
            let mut inflater = Inflater::new(15, false);
            assert_eq!(
                inflate_message(&mut inflater, bad, 100),
                Err(InflateError::Corrupt),
                "{bad:02x?}"
            );
        }
    }

    /// Chat-like messages that repeat much of the ones before them.
    fn chat(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let body = "lorem ipsum dolor ".repeat(i % 7 + 1);
                format!(r#"{{"type":"message","room":"general","user":"user{}","seq":{i},"text":"{body}"}}"#, i % 5)
                    .into_bytes()
            })
            .collect()
    }

    #[test]
    fn context_takeover_agrees_with_a_peer_that_keeps_its_state() {
        // A peer that keeps one zlib stream for the whole connection, as
        // any other implementation does: our pooled states primed with the
        // history must write what it reads and read what it writes.
        for (level, bits) in (9..=15u8).map(|b| (6, b)).chain([(0, 9), (1, 10), (9, 9)]) {
            let mut ours = Deflater::new(level, bits, false);
            let mut theirs_in = Decompress::new_with_window_bits(false, bits);
            let mut theirs_out =
                flate2::Compress::new_with_window_bits(flate2::Compression::new(6), false, bits);
            let mut inflater = Inflater::new(bits, false);
            let (mut sent, mut plain) = (0, 0);
            for text in chat(40) {
                let mut payload = Vec::new();
                ours.compress(&text, true, &mut payload).unwrap();
                sent += payload.len();
                plain += text.len();
                payload.extend_from_slice(&TAIL);
                let mut back = Vec::with_capacity(text.len() + 64);
                theirs_in
                    .decompress_vec(&payload, &mut back, FlushDecompress::Sync)
                    .unwrap();
                assert_eq!(back, text, "{bits} bits, ours to theirs");

                let mut payload = Vec::with_capacity(text.len() + 64);
                theirs_out
                    .compress_vec(&text, &mut payload, FlushCompress::Sync)
                    .unwrap();
                assert!(payload.ends_with(&TAIL));
                payload.truncate(payload.len() - TAIL.len());
                assert_eq!(
                    inflate_message(&mut inflater, &payload, 10_000).unwrap(),
                    text,
                    "{bits} bits, theirs to ours"
                );
                assert_eq!(ours.is_allocated(), bits > HISTORY_MAX_BITS);
                assert!(!inflater.is_allocated());
            }
            // The history is used: later messages refer back to earlier ones
            // (level 0 stores).
            if level > 0 {
                assert!(sent * 4 < plain, "{bits} bits: {sent} of {plain}");
            }
        }
    }

    #[test]
    fn empty_messages_and_small_windows() {
        for bits in [8, 9, 12, 15] {
            for reset in [false, true] {
                let mut deflater = Deflater::new(6, bits, reset);
                let mut inflater = Inflater::new(bits, reset);
                assert!(!deflater.is_allocated() && !inflater.is_allocated());
                for text in [&b""[..], b"", b"abc abc abc", b"", &[7; 3000], b""] {
                    let mut payload = Vec::new();
                    deflater.compress(text, true, &mut payload).unwrap();
                    assert!(!payload.is_empty(), "an empty payload cannot end a block");
                    assert_eq!(
                        inflate_message(&mut inflater, &payload, 10_000).unwrap(),
                        text
                    );
                }
                // The states went back to the pool; only the history stays,
                // or, for a large window, the compressor's own state.
                let bits = bits.max(MIN_ZLIB_BITS);
                let own = !reset && bits > HISTORY_MAX_BITS;
                assert_eq!(deflater.is_allocated(), own);
                assert!(!inflater.is_allocated());
                let kept = if reset { 0 } else { (1 << bits).min(3011) };
                assert_eq!(deflater.history_len(), if own { 0 } else { kept });
                assert_eq!(inflater.history_len(), kept);
            }
        }
    }

    /// Text that compresses poorly: letters from a linear congruential
    /// sequence, many more symbols than a block of a pooled compressor holds.
    fn noisy(len: usize) -> Vec<u8> {
        let mut x: u32 = 12345;
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b'a' + (x >> 16) as u8 % 26
            })
            .collect()
    }

    #[test]
    fn pooled_compressors_write_what_flate2_writes_for_short_messages() {
        // At POOLED_MEM_LEVEL a message of fewer symbols than a block holds
        // compresses to the bytes zlib's default memory level gives.
        for text in chat(20).iter().chain([&noisy(3000)]) {
            let mut ours = Vec::new();
            Deflater::new(6, 15, true)
                .compress(text, true, &mut ours)
                .unwrap();
            let mut theirs = Vec::with_capacity(text.len() + 64);
            flate2::Compress::new_with_window_bits(flate2::Compression::new(6), false, 15)
                .compress_vec(text, &mut theirs, FlushCompress::Sync)
                .unwrap();
            assert_eq!(ours, theirs[..theirs.len() - TAIL.len()]);
        }
    }

    #[test]
    fn a_message_of_many_blocks_inflates_back() {
        // 200,000 symbols: about 50 blocks at POOLED_MEM_LEVEL, fragments
        // of several sizes, read by a plain flate2 inflater as a peer's.
        let text = noisy(200_000);
        for bits in [9, 15] {
            let mut deflater = Deflater::new(6, bits, true);
            let mut payload = Vec::new();
            let pieces: Vec<&[u8]> = text.chunks(70_000).collect();
            for (i, piece) in pieces.iter().enumerate() {
                deflater
                    .compress(piece, i + 1 == pieces.len(), &mut payload)
                    .unwrap();
            }
            assert!(!deflater.is_allocated());
            assert!(payload.len() < text.len(), "{bits}: {}", payload.len());
            payload.extend_from_slice(&TAIL);
            let mut back = Vec::with_capacity(text.len() + 1);
            Decompress::new_with_window_bits(false, 15)
                .decompress_vec(&payload, &mut back, FlushDecompress::Sync)
                .unwrap();
            assert_eq!(back, text, "{bits} bits");
        }
    }
}
