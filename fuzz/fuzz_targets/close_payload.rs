//! `CloseFrame::parse` on arbitrary bytes: what it accepts encodes back to
//! the same bytes and could have been built with `CloseFrame::new`; what it
//! rejects fails the connection with 1002, or 1007 for a reason not in UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rfc6455::close::{CloseError, CloseFrame};

fuzz_target!(|data: &[u8]| {
    match CloseFrame::parse(data) {
        Ok(None) => assert!(data.is_empty()),
        Ok(Some(frame)) => {
            let mut out = Vec::new();
            frame.encode(&mut out);
            assert_eq!(out, data);
            assert_eq!(frame.encoded_len(), data.len());
            assert!(frame.code().is_sendable());
            assert_eq!(CloseFrame::new(frame.code(), frame.reason()), Ok(frame));
        }
        Err(e) => {
            let code = u16::from(e.close_code());
            let expected = if e == CloseError::InvalidUtf8Reason {
                1007
            } else {
                1002
            };
            assert_eq!(code, expected, "{e:?}");
        }
    }
});
