//! Helpers shared by this crate's integration tests: every parser run on the same bytes.

use payymo_statements::{ReadOptions, camt, csv, detect, mt940, ofx, read};

/// Runs detection, the detecting reader and every format's reader on `bytes`; each may fail,
/// none may panic. Returns whether the detecting reader succeeded.
#[must_use]
pub fn read_every_way(bytes: &[u8]) -> bool {
    let _ = detect(bytes);
    let _ = camt::read(bytes);
    let _ = mt940::read(bytes);
    let _ = ofx::read(bytes);
    let _ = csv::read(bytes, None, None);
    let _ = csv::detect_mapping(bytes);
    read(bytes, &ReadOptions::default()).is_ok()
}

/// A small deterministic generator (xorshift), so a failing mutation can be replayed.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

/// `bytes` with a few random edits: bytes flipped, inserted, removed, lines swapped, a cut.
pub fn mutate(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let interesting: &[&[u8]] = &[
        b"<",
        b">",
        b"</",
        b":",
        b"?",
        b"\n",
        b"\r\n",
        b",",
        b".",
        b";",
        b"\"",
        b"-",
        b"&",
        b"9999999999999999999",
        b"<!DOCTYPE x>",
        b":61:",
        b":86:",
        b"?20",
        b"<STMTTRN>",
        b"<Ntry>",
        b"</Ntry>",
        b"\xff\xfe",
        b"\xc3",
    ];
    for _ in 0..=rng.below(4) {
        if out.is_empty() {
            out.extend_from_slice(b"<");
        }
        let at = rng.below(out.len());
        match rng.below(5) {
            0 => out[at] = u8::try_from(rng.below(256)).unwrap_or(0),
            1 => {
                let piece = interesting[rng.below(interesting.len())];
                out.splice(at..at, piece.iter().copied());
            }
            2 => {
                let end = (at + rng.below(64)).min(out.len());
                out.drain(at..end);
            }
            3 => out.truncate(at),
            _ => {
                let end = (at + rng.below(200)).min(out.len());
                let chunk: Vec<u8> = out[at..end].to_vec();
                let to = rng.below(out.len());
                out.splice(to..to, chunk);
            }
        }
    }
    out
}
