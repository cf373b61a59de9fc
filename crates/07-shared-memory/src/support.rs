//! Deterministic data shared by the helper binaries (`shm-peer`, `shmchan-peer`) and the tests
//! that check what those binaries send: both sides compute the same values from an index, so a
//! lost, duplicated, reordered or torn message never looks right by accident. Not an exercise.

/// The value the ring scenarios put in slot number `i`: never `i` itself, so that a slot read
/// too early (still 0) or a lap too late does not pass for the right one.
pub fn ring_value(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Message `index` of the fuzz scenario with `seed`: one in eight up to `max` bytes long, one
/// in eight empty, the others under 200 bytes; random contents.
pub fn fuzz_message(seed: u64, index: u64, max: usize) -> Vec<u8> {
    let mut rng = Rng((seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
    let len = match rng.next() % 8 {
        0 => (rng.next() % (max as u64 + 1)) as usize,
        1 => 0,
        _ => (rng.next() % 200) as usize,
    };
    (0..len).map(|_| rng.next() as u8).collect()
}
