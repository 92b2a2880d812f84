//! The fast masking paths equal the byte-at-a-time loop for every length,
//! alignment and key phase, and a `Masker` fed a payload in two pieces equals
//! masking it whole, in place (`apply`) and copying (`put`, into a buffer
//! that starts at any alignment).
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rfc6455::mask::{Masker, apply_mask, apply_mask_at, apply_mask_bytewise};

#[derive(Arbitrary, Debug)]
struct Input {
    key: [u8; 4],
    /// Where the piece sits in its payload: the phase of the key. Taken
    /// below 2^63, the longest payload a frame can carry.
    offset: u64,
    /// How far into the buffer the piece starts: its alignment in memory.
    start: u8,
    /// Where the `Masker` splits the payload.
    cut: u16,
    data: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let Input {
        key,
        offset,
        start,
        cut,
        data,
    } = input;
    let start = usize::from(start % 16).min(data.len());

    let mut fast = data.clone();
    let mut slow = data.clone();
    apply_mask_at(&mut fast[start..], key, offset);
    apply_mask_bytewise(&mut slow[start..], key, offset);
    assert_eq!(fast, slow);

    let mut whole = data.clone();
    apply_mask(&mut whole, key);
    let cut = usize::from(cut).min(whole.len());
    let mut copied = vec![0xee; start];
    let mut masker = Masker::new(key);
    masker.put(&mut copied, &data[..cut]);
    masker.put(&mut copied, &data[cut..]);
    assert_eq!(masker.position(), whole.len() as u64);
    assert_eq!(&copied[..start], &vec![0xee; start][..]);
    assert_eq!(&copied[start..], &whole[..]);

    let mut pieces = data;
    let (a, b) = pieces.split_at_mut(cut);
    let mut masker = Masker::new(key);
    masker.apply(a);
    masker.apply(b);
    assert_eq!(masker.position(), whole.len() as u64);
    assert_eq!(pieces, whole);
});
