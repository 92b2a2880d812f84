//! `FrameHeader::decode` on arbitrary bytes: a complete header encodes back to
//! exactly the bytes it came from, "need more" always asks for more than it
//! got, every error is a 1002, and feeding the same bytes one at a time never
//! changes an answer once it is given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455::frame::{FrameHeader, HeaderStatus, MAX_HEADER_LEN, Rsv};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the RSV bits that extensions have claimed.
    let Some((&claimed, wire)) = data.split_first() else {
        return;
    };
    let allowed = Rsv::from_bits(claimed);
    let status = FrameHeader::decode(wire, allowed);
    match status {
        Ok(HeaderStatus::Complete { header, len }) => {
            assert!(len <= wire.len() && len == header.encoded_len());
            let mut out = [0; MAX_HEADER_LEN];
            let n = header.encode(&mut out);
            assert_eq!(&out[..n], &wire[..len], "{header:?}");
            assert!(allowed.contains(header.rsv));
            if header.opcode.is_control() {
                assert!(header.fin && header.payload_len <= 125);
            }
        }
        Ok(HeaderStatus::Partial { needed }) => {
            assert!(needed > wire.len() && needed <= MAX_HEADER_LEN);
        }
        Err(e) => assert_eq!(u16::from(e.close_code()), 1002, "{e:?}"),
    }
    // Bytes arriving one at a time: a prefix may ask for more, but an error
    // or a complete header, once given, is the answer for the whole input.
    for end in 0..wire.len().min(MAX_HEADER_LEN + 1) {
        match FrameHeader::decode(&wire[..end], allowed) {
            Ok(HeaderStatus::Partial { needed }) => assert!(needed > end),
            given => assert_eq!(given, status, "prefix of {end} bytes"),
        }
    }
});
