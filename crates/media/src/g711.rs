//! G.711 µ-law and A-law (ITU-T G.711) conversion between 8-bit codes and 16-bit linear samples.
//!
//! Owns the four lookup tables, built at compile time from the G.711 segment formulas, and the
//! [`Law`] type that names a companding law everywhere in `media`. Encoding works at the standard's
//! input precision (14-bit µ-law, 13-bit A-law: the 16-bit sample shifted right) and picks the
//! code whose decision interval holds the sample; decoding gives the interval's reconstruction
//! value. Never allocates: every bulk
//! function writes into a slice the caller owns (STYLE rule 10), and never does IO.
//! Entry points: [`Law::decode`], [`Law::encode`], [`Law::transcode`].

/// A G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law (G.711 §2, North America and Japan); RTP payload type 0 "PCMU" (RFC 3551 §4.5.14).
    Mu,
    /// A-law (G.711 §3, elsewhere); RTP payload type 8 "PCMA" (RFC 3551 §4.5.14).
    A,
}

impl Law {
    /// The code that decodes to (nearly) zero: µ-law 0xFF is +0, A-law 0xD5 is the smallest positive
    /// level (A-law has no zero). Used to fill gaps left by lost packets.
    pub const fn silence(self) -> u8 {
        match self {
            Law::Mu => 0xFF,
            Law::A => 0xD5,
        }
    }

    /// Decodes one code to a 16-bit linear sample.
    pub fn decode_sample(self, code: u8) -> i16 {
        let table = match self {
            Law::Mu => &MU_DECODE,
            Law::A => &A_DECODE,
        };
        // A u8 always indexes a 256-entry table; `get` keeps the no-panic rule without a cost.
        table.get(usize::from(code)).copied().unwrap_or(0)
    }

    /// Encodes one 16-bit linear sample.
    pub fn encode_sample(self, sample: i16) -> u8 {
        // Shift to the law's input precision and make the index non-negative.
        let (table, index): (&[u8], i32) = match self {
            Law::Mu => (&MU_ENCODE, (i32::from(sample) >> 2) + MU_OFFSET),
            Law::A => (&A_ENCODE, (i32::from(sample) >> 3) + A_OFFSET),
        };
        usize::try_from(index)
            .ok()
            .and_then(|i| table.get(i))
            .copied()
            .unwrap_or(self.silence())
    }

    /// Decodes `src` into `dst`; converts `min(src.len(), dst.len())` samples and returns that count.
    pub fn decode(self, src: &[u8], dst: &mut [i16]) -> usize {
        let count = src.len().min(dst.len());
        for (out, code) in dst.iter_mut().zip(src) {
            *out = self.decode_sample(*code);
        }
        count
    }

    /// Encodes `src` into `dst`; converts `min(src.len(), dst.len())` samples and returns that count.
    pub fn encode(self, src: &[i16], dst: &mut [u8]) -> usize {
        let count = src.len().min(dst.len());
        for (out, sample) in dst.iter_mut().zip(src) {
            *out = self.encode_sample(*sample);
        }
        count
    }

    /// Converts codes of law `from` into codes of `self` (decode, then encode), writing
    /// `min(src.len(), dst.len())` codes and returning that count. Same-law input is copied as is.
    pub fn transcode(self, from: Law, src: &[u8], dst: &mut [u8]) -> usize {
        let count = src.len().min(dst.len());
        for (out, code) in dst.iter_mut().zip(src) {
            *out = if from == self {
                *code
            } else {
                self.encode_sample(from.decode_sample(*code))
            };
        }
        count
    }
}

/// Added to a 14-bit µ-law input value to index [`MU_ENCODE`].
const MU_OFFSET: i32 = 8192;
/// Added to a 13-bit A-law input value to index [`A_ENCODE`].
const A_OFFSET: i32 = 4096;

/// µ-law code → 16-bit sample.
static MU_DECODE: [i16; 256] = build_decode(Law::Mu);
/// A-law code → 16-bit sample.
static A_DECODE: [i16; 256] = build_decode(Law::A);
/// 14-bit sample + [`MU_OFFSET`] → µ-law code.
static MU_ENCODE: [u8; 16384] = build_mu_encode();
/// 13-bit sample + [`A_OFFSET`] → A-law code.
static A_ENCODE: [u8; 8192] = build_a_encode();

/// The magnitude of µ-law level (segment, step) at 14-bit precision: (2·step + 33)·2^segment − 33
/// (G.711 Table 2a).
const fn mu_level(segment: u32, step: u32) -> i32 {
    (((2 * step + 33) << segment) - 33) as i32
}

/// The magnitude of A-law level (segment, step) at 13-bit precision: 2·step + 1 in segment 0 and
/// (2·step + 33)·2^(segment−1) above (G.711 Table 1a).
const fn a_level(segment: u32, step: u32) -> i32 {
    if segment == 0 {
        (2 * step + 1) as i32
    } else {
        ((2 * step + 33) << (segment - 1)) as i32
    }
}

/// The code for (negative?, segment, step) in each law's bit layout: µ-law inverts all bits and
/// marks negative values with a 0 sign bit after inversion; A-law sets the sign bit for positive
/// values and inverts the even bits (XOR 0x55).
const fn code(law: Law, negative: bool, segment: u32, step: u32) -> u8 {
    let raw = ((segment << 4) | step) as u8;
    match law {
        Law::Mu => !(raw | if negative { 0x80 } else { 0 }),
        Law::A => (raw | if negative { 0 } else { 0x80 }) ^ 0x55,
    }
}

// Compile-time table builders. Indexing is fine here: an out-of-range index in a const
// initialiser is a compile error, never a runtime panic.
#[allow(clippy::indexing_slicing)]
const fn build_decode(law: Law) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut sign = 0;
    while sign < 2 {
        let mut segment = 0;
        while segment < 8 {
            let mut step = 0;
            while step < 16 {
                let negative = sign == 1;
                let magnitude = match law {
                    Law::Mu => mu_level(segment, step) * 4,
                    Law::A => a_level(segment, step) * 8,
                };
                let value = if negative { -magnitude } else { magnitude };
                table[code(law, negative, segment, step) as usize] = value as i16;
                step += 1;
            }
            segment += 1;
        }
        sign += 1;
    }
    table
}

/// The µ-law code for a 14-bit input `value`. G.711 Table 2a's decision intervals are, with the
/// magnitude biased by 33, [(32 + 2·step)·2^segment, (34 + 2·step)·2^segment): the segment is
/// where the biased magnitude's leading bit lies and the step is the next four bits. Magnitudes
/// past the last interval clamp to the top code (overload).
const fn mu_encode_value(value: i32) -> u8 {
    let negative = value < 0;
    let mut magnitude = if negative { -value } else { value };
    if magnitude > 8158 {
        magnitude = 8158;
    }
    let biased = (magnitude + 33) as u32;
    let mut segment = 0;
    while segment < 7 && biased >= (64 << segment) {
        segment += 1;
    }
    code(Law::Mu, negative, segment, (biased >> (segment + 1)) & 0xF)
}

/// The A-law code for a 13-bit input `value`. G.711 Table 1a's decision intervals are [2·step,
/// 2·step + 2) in segment 0, [32 + 2·step, 34 + 2·step) in segment 1 and
/// [(16 + step)·2^segment, (17 + step)·2^segment) above. A negative input −v is coded by the
/// magnitude v − 1, which keeps the two halves of the scale symmetric around −½.
const fn a_encode_value(value: i32) -> u8 {
    let negative = value < 0;
    let magnitude = (if negative { -value - 1 } else { value }) as u32;
    let mut segment = 0;
    while segment < 7 && magnitude >= (32 << segment) {
        segment += 1;
    }
    let step = if segment < 2 {
        (magnitude >> 1) & 0xF
    } else {
        (magnitude >> segment) & 0xF
    };
    code(Law::A, negative, segment, step)
}

#[allow(clippy::indexing_slicing)] // Const evaluation; see build_decode.
const fn build_mu_encode() -> [u8; 16384] {
    let mut table = [0u8; 16384];
    let mut index = 0;
    while index < 16384 {
        table[index] = mu_encode_value(index as i32 - MU_OFFSET);
        index += 1;
    }
    table
}

#[allow(clippy::indexing_slicing)] // Const evaluation; see build_decode.
const fn build_a_encode() -> [u8; 8192] {
    let mut table = [0u8; 8192];
    let mut index = 0;
    while index < 8192 {
        table[index] = a_encode_value(index as i32 - A_OFFSET);
        index += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// G.711 reconstruction levels computed independently of the tables: every (sign, segment,
    /// step) with its 8-bit code and 16-bit value, from the standard's bit layout and formulas.
    fn reference_levels(law: Law) -> Vec<(u8, i32)> {
        let mut levels = Vec::new();
        for sign_bit in [0u8, 1] {
            for segment in 0..8u8 {
                for step in 0..16u8 {
                    let (code, magnitude) = match law {
                        Law::Mu => {
                            // Transmitted bits are the complement of sign|segment|step; sign 1 = negative.
                            let code = !((sign_bit << 7) | (segment << 4) | step);
                            let m = (2 * i32::from(step) + 33) * (1 << segment) - 33;
                            (code, m * 4)
                        }
                        Law::A => {
                            // Sign 1 = positive; even bits inverted on the line.
                            let code = ((sign_bit << 7) | (segment << 4) | step) ^ 0x55;
                            let m = if segment == 0 {
                                2 * i32::from(step) + 1
                            } else {
                                (2 * i32::from(step) + 33) * (1 << (segment - 1))
                            };
                            (code, m * 8)
                        }
                    };
                    let negative = match law {
                        Law::Mu => sign_bit == 1,
                        Law::A => sign_bit == 0,
                    };
                    levels.push((code, if negative { -magnitude } else { magnitude }));
                }
            }
        }
        levels
    }

    #[test]
    fn decoding_matches_the_standard_for_every_code() {
        for law in [Law::Mu, Law::A] {
            let levels = reference_levels(law);
            assert_eq!(levels.len(), 256);
            for (code, value) in levels {
                assert_eq!(
                    i32::from(law.decode_sample(code)),
                    value,
                    "{law:?} code {code:#04x}"
                );
            }
        }
    }

    #[test]
    fn well_known_codes() {
        assert_eq!(Law::Mu.decode_sample(0xFF), 0);
        assert_eq!(Law::Mu.decode_sample(0x7F), 0);
        assert_eq!(Law::Mu.decode_sample(0x80), 32124);
        assert_eq!(Law::Mu.decode_sample(0x00), -32124);
        assert_eq!(Law::A.decode_sample(0xD5), 8);
        assert_eq!(Law::A.decode_sample(0x55), -8);
        assert_eq!(Law::A.decode_sample(0xAA), 32256);
        assert_eq!(Law::A.decode_sample(0x2A), -32256);
        assert_eq!(Law::Mu.encode_sample(0), 0xFF);
        assert_eq!(Law::A.encode_sample(0), 0xD5);
        assert_eq!(Law::Mu.encode_sample(i16::MAX), 0x80);
        assert_eq!(Law::Mu.encode_sample(i16::MIN), 0x00);
        assert_eq!(Law::A.encode_sample(i16::MAX), 0xAA);
        assert_eq!(Law::A.encode_sample(i16::MIN), 0x2A);
    }

    /// G.711 decision intervals, computed independently of the tables: for each code, the
    /// half-open range of input magnitudes (at 14-bit µ-law or 13-bit A-law precision) it stands
    /// for, and whether it is negative.
    fn reference_intervals(law: Law) -> Vec<(u8, bool, i32, i32)> {
        let levels = reference_levels(law);
        let mut intervals = Vec::new();
        for segment in 0..8i32 {
            for step in 0..16i32 {
                let (low, high) = match law {
                    Law::Mu => (
                        (32 + 2 * step) * (1 << segment) - 33,
                        (34 + 2 * step) * (1 << segment) - 33,
                    ),
                    Law::A if segment == 0 => (2 * step, 2 * step + 2),
                    Law::A if segment == 1 => (32 + 2 * step, 34 + 2 * step),
                    Law::A => ((16 + step) * (1 << segment), (17 + step) * (1 << segment)),
                };
                // Each code's reconstruction level is the middle of its interval (times the
                // scale to 16 bits), which ties the two tables of the standard together.
                let scale = if law == Law::Mu { 4 } else { 8 };
                for negative in [false, true] {
                    let level = levels
                        .iter()
                        .find(|(code, _)| {
                            let raw = match law {
                                Law::Mu => !code,
                                Law::A => code ^ 0x55,
                            };
                            let is_negative = match law {
                                Law::Mu => raw & 0x80 != 0,
                                Law::A => raw & 0x80 == 0,
                            };
                            i32::from(raw & 0x7F) == segment * 16 + step && is_negative == negative
                        })
                        .unwrap();
                    let middle = (low + high) * scale / 2;
                    let expected = if negative { -middle } else { middle };
                    assert_eq!(
                        level.1, expected,
                        "{law:?} segment {segment} step {step} negative {negative}"
                    );
                    intervals.push((level.0, negative, low, high));
                }
            }
        }
        intervals
    }

    #[test]
    fn encoding_follows_the_decision_intervals_for_every_sample() {
        for law in [Law::Mu, Law::A] {
            let intervals = reference_intervals(law);
            let top = intervals.iter().map(|i| i.3).max().unwrap();
            for sample in i16::MIN..=i16::MAX {
                let (negative, magnitude) = match law {
                    Law::Mu => {
                        let v = i32::from(sample) >> 2;
                        (v < 0, v.abs())
                    }
                    Law::A => {
                        let v = i32::from(sample) >> 3;
                        (v < 0, if v < 0 { -v - 1 } else { v })
                    }
                };
                // Overload: beyond the last interval, the top code.
                let magnitude = magnitude.min(top - 1);
                let expected: Vec<u8> = intervals
                    .iter()
                    .filter(|(_, n, low, high)| {
                        *n == negative && (*low..*high).contains(&magnitude)
                    })
                    .map(|i| i.0)
                    .collect();
                assert_eq!(
                    expected,
                    [law.encode_sample(sample)],
                    "{law:?} sample {sample} (magnitude {magnitude}, negative {negative})"
                );
            }
        }
    }

    /// Spot checks against the Sun reference implementation (as shipped in CPython's `audioop`).
    #[test]
    fn reference_encodings() {
        let mu = [
            (0, 0xFF),
            (-1, 0x7E),
            (1000, 0xCE),
            (-1000, 0x4E),
            (8000, 0xA0),
            (32767, 0x80),
            (-32768, 0x00),
        ];
        let a = [
            (0, 0xD5),
            (-1, 0x55),
            (1000, 0xFA),
            (-1000, 0x7A),
            (8000, 0x8A),
            (32767, 0xAA),
            (-32768, 0x2A),
        ];
        for (sample, code) in mu {
            assert_eq!(Law::Mu.encode_sample(sample), code, "µ-law {sample}");
        }
        for (sample, code) in a {
            assert_eq!(Law::A.encode_sample(sample), code, "A-law {sample}");
        }
    }

    #[test]
    fn every_code_round_trips_except_negative_zero() {
        for law in [Law::Mu, Law::A] {
            for code in 0..=255u8 {
                let back = law.encode_sample(law.decode_sample(code));
                if law == Law::Mu && code == 0x7F {
                    assert_eq!(back, 0xFF);
                } else {
                    assert_eq!(back, code, "{law:?} {code:#04x}");
                }
            }
        }
    }

    #[test]
    fn bulk_functions_stop_at_the_shorter_slice() {
        let src = [0xFFu8, 0x80, 0x00];
        let mut dst = [1i16; 2];
        assert_eq!(Law::Mu.decode(&src, &mut dst), 2);
        assert_eq!(dst, [0, 32124]);
        let mut codes = [0u8; 4];
        assert_eq!(Law::A.encode(&[0, i16::MAX], &mut codes), 2);
        assert_eq!(codes, [0xD5, 0xAA, 0, 0]);
        let mut alaw = [0u8; 3];
        assert_eq!(Law::A.transcode(Law::Mu, &src, &mut alaw), 3);
        assert_eq!(alaw, [0xD5, 0xAA, 0x2A]);
        let mut same = [0u8; 3];
        Law::Mu.transcode(Law::Mu, &src, &mut same);
        assert_eq!(same, src);
    }
}
