//! WAV (RIFF WAVE) files: writing the G.711 voice attachment of a voicemail (MS-OXOUM §2.2.5.1 allows
//! WAV holding G.711 µ-law or A-law) and reading prompts and users' greetings.
//!
//! Wire only, no IO: bytes in, bytes out. The writer stores the audio exactly as received, with
//! format tag 7 (µ-law) or 6 (A-law), 8 kHz mono 8-bit, and the `fact` chunk WAVE requires for
//! formats other than PCM. The reader accepts 8 kHz mono 16-bit PCM or G.711 (also inside
//! WAVE_FORMAT_EXTENSIBLE), bounds every chunk by the buffer, and never panics.
//! Entry points: [`write_g711`], [`read`], [`Wav::to_g711`].

use super::g711::Law;
use super::rtp::CLOCK_RATE;

/// Largest WAV file read (five minutes of 16-bit PCM is 4.8 MB).
pub const MAX_WAV_BYTES: usize = 16 * 1024 * 1024;

/// Why a WAV file cannot be written or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    /// The file is larger than [`MAX_WAV_BYTES`], or the audio would not fit a RIFF size field.
    #[error("wav data of {0} bytes is too large")]
    TooLarge(usize),
    /// Not a RIFF WAVE file, or a chunk runs past the end.
    #[error("not a well-formed wav file: {0}")]
    Malformed(&'static str),
    /// A format umbox does not play.
    #[error(
        "unsupported wav format: tag {tag:#06x}, {channels} channel(s), {rate} hz, {bits} bits"
    )]
    Unsupported {
        /// The format tag.
        tag: u16,
        /// Channels.
        channels: u16,
        /// Sample rate.
        rate: u32,
        /// Bits per sample.
        bits: u16,
    },
}

/// A WAVE format tag (the registered values in Microsoft's mmreg.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatTag {
    /// WAVE_FORMAT_PCM.
    Pcm,
    /// WAVE_FORMAT_ALAW.
    Alaw,
    /// WAVE_FORMAT_MULAW.
    Mulaw,
    /// WAVE_FORMAT_EXTENSIBLE: the real tag is in the sub-format GUID.
    Extensible,
    /// Any other.
    Other(u16),
}

impl FormatTag {
    /// The tag's number.
    pub const fn as_u16(self) -> u16 {
        match self {
            FormatTag::Pcm => 1,
            FormatTag::Alaw => 6,
            FormatTag::Mulaw => 7,
            FormatTag::Extensible => 0xFFFE,
            FormatTag::Other(tag) => tag,
        }
    }

    /// The tag with this number.
    pub const fn from_u16(tag: u16) -> FormatTag {
        match tag {
            1 => FormatTag::Pcm,
            6 => FormatTag::Alaw,
            7 => FormatTag::Mulaw,
            0xFFFE => FormatTag::Extensible,
            other => FormatTag::Other(other),
        }
    }

    /// The tag of a G.711 law.
    pub const fn of_law(law: Law) -> FormatTag {
        match law {
            Law::Mu => FormatTag::Mulaw,
            Law::A => FormatTag::Alaw,
        }
    }
}

/// Bytes of the RIFF header, the 18-byte `fmt ` chunk and the `fact` chunk, before the data.
pub const G711_HEADER_LEN: usize = 12 + 8 + 18 + 8 + 4 + 8;

/// Writes `audio` (G.711 codes of `law`, one byte per sample) as a WAV file.
pub fn write_g711(law: Law, audio: &[u8]) -> Result<Vec<u8>, WavError> {
    let mut out = Vec::with_capacity(G711_HEADER_LEN + audio.len() + 1);
    write_g711_header(law, audio.len(), &mut out)?;
    out.extend_from_slice(audio);
    pad(&mut out, audio.len());
    Ok(out)
}

/// Appends to `out` the header of a WAV file holding `samples` G.711 codes of `law`; the codes
/// follow, then [`pad`].
pub fn write_g711_header(law: Law, samples: usize, out: &mut Vec<u8>) -> Result<(), WavError> {
    let too_large = || WavError::TooLarge(samples);
    let data_len = u32::try_from(samples).map_err(|_| too_large())?;
    // Everything after the 8-byte RIFF chunk header.
    let riff_len = (G711_HEADER_LEN - 8)
        .checked_add(samples)
        .and_then(|length| length.checked_add(samples % 2))
        .and_then(|length| u32::try_from(length).ok())
        .ok_or_else(too_large)?;
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&riff_len.to_le_bytes());
    out.extend_from_slice(b"WAVE");
    // WAVEFORMATEX with cbSize = 0: the 18-byte form used for every format but PCM.
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&18u32.to_le_bytes());
    out.extend_from_slice(&FormatTag::of_law(law).as_u16().to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // channels
    out.extend_from_slice(&CLOCK_RATE.to_le_bytes()); // samples per second
    out.extend_from_slice(&CLOCK_RATE.to_le_bytes()); // bytes per second
    out.extend_from_slice(&1u16.to_le_bytes()); // block align
    out.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(&0u16.to_le_bytes()); // cbSize
                                                // The fact chunk's sample count: one sample per byte.
    out.extend_from_slice(b"fact");
    out.extend_from_slice(&4u32.to_le_bytes());
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    Ok(())
}

/// Ends a file of `samples` codes: RIFF chunks are word aligned, and the pad byte is not counted
/// in the data size.
pub fn pad(out: &mut Vec<u8>, samples: usize) {
    if samples % 2 == 1 {
        out.push(0);
    }
}

/// How the samples of a read file are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// Signed 16-bit little-endian PCM.
    Pcm16,
    /// G.711 codes.
    G711(Law),
}

/// A WAV file's audio, borrowed from the file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wav<'a> {
    /// Sample format.
    pub format: SampleFormat,
    /// The `data` chunk.
    pub data: &'a [u8],
}

impl Wav<'_> {
    /// The number of samples.
    pub fn samples(&self) -> usize {
        match self.format {
            SampleFormat::Pcm16 => self.data.len() / 2,
            SampleFormat::G711(_) => self.data.len(),
        }
    }

    /// The audio as G.711 codes of `law`; done once when a prompt or greeting is loaded.
    pub fn to_g711(&self, law: Law) -> Vec<u8> {
        let mut out = vec![law.silence(); self.samples()];
        match self.format {
            SampleFormat::G711(from) => {
                law.transcode(from, self.data, &mut out);
            }
            SampleFormat::Pcm16 => {
                for (code, pair) in out.iter_mut().zip(self.data.chunks_exact(2)) {
                    let sample = i16::from_le_bytes([
                        pair.first().copied().unwrap_or(0),
                        pair.get(1).copied().unwrap_or(0),
                    ]);
                    *code = law.encode_sample(sample);
                }
            }
        }
        out
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

/// Reads a WAV file holding 8 kHz mono 16-bit PCM or G.711.
pub fn read(bytes: &[u8]) -> Result<Wav<'_>, WavError> {
    if bytes.len() > MAX_WAV_BYTES {
        return Err(WavError::TooLarge(bytes.len()));
    }
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err(WavError::Malformed("no riff wave header"));
    }
    let mut format = None;
    let mut at = 12usize;
    while let (Some(id), Some(size)) = (bytes.get(at..at + 4), u32_at(bytes, at + 4)) {
        let body_start = at + 8;
        let size = usize::try_from(size).map_err(|_| WavError::Malformed("chunk size"))?;
        let available = bytes.len().saturating_sub(body_start);
        match id {
            b"fmt " => {
                let body = bytes
                    .get(body_start..body_start.saturating_add(size))
                    .ok_or(WavError::Malformed("fmt chunk runs past the end"))?;
                format = Some(read_format(body)?);
            }
            b"data" => {
                let format = format.ok_or(WavError::Malformed("data before fmt"))?;
                // Writers that stream (size unknown when the header was written) leave 0 or
                // 0xFFFFFFFF here; the data then simply runs to the end of the file.
                let length = if size == 0 || size > available {
                    available
                } else {
                    size
                };
                let data = bytes
                    .get(body_start..body_start + length)
                    .ok_or(WavError::Malformed("data chunk"))?;
                return Ok(Wav { format, data });
            }
            _ => {}
        }
        // Chunks are word aligned.
        at = body_start
            .checked_add(size)
            .and_then(|end| end.checked_add(size % 2))
            .ok_or(WavError::Malformed("chunk size"))?;
    }
    Err(WavError::Malformed("no data chunk"))
}

/// Reads a `fmt ` chunk body.
fn read_format(body: &[u8]) -> Result<SampleFormat, WavError> {
    let malformed = || WavError::Malformed("fmt chunk too short");
    let mut tag = u16_at(body, 0).ok_or_else(malformed)?;
    let channels = u16_at(body, 2).ok_or_else(malformed)?;
    let rate = u32_at(body, 4).ok_or_else(malformed)?;
    let bits = u16_at(body, 14).ok_or_else(malformed)?;
    if FormatTag::from_u16(tag) == FormatTag::Extensible {
        // WAVEFORMATEXTENSIBLE: the sub-format GUID starts at byte 24 with the real tag.
        tag = u16_at(body, 24).ok_or(WavError::Malformed("extensible fmt chunk too short"))?;
    }
    let unsupported = WavError::Unsupported {
        tag,
        channels,
        rate,
        bits,
    };
    if channels != 1 || rate != CLOCK_RATE {
        return Err(unsupported);
    }
    match (FormatTag::from_u16(tag), bits) {
        (FormatTag::Pcm, 16) => Ok(SampleFormat::Pcm16),
        (FormatTag::Mulaw, 8) => Ok(SampleFormat::G711(Law::Mu)),
        (FormatTag::Alaw, 8) => Ok(SampleFormat::G711(Law::A)),
        _ => Err(unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_header_bytes() {
        let file = write_g711(Law::Mu, &[0xFF, 0x7F, 0x80]).unwrap();
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            b"RIFF".as_slice(), &[54, 0, 0, 0], b"WAVE",
            b"fmt ", &[18, 0, 0, 0],
            &[7, 0], &[1, 0], &[0x40, 0x1F, 0, 0], &[0x40, 0x1F, 0, 0], &[1, 0], &[8, 0], &[0, 0],
            b"fact", &[4, 0, 0, 0], &[3, 0, 0, 0],
            b"data", &[3, 0, 0, 0], &[0xFF, 0x7F, 0x80], &[0],
        ]
        .concat();
        assert_eq!(file, expected);
        assert_eq!(file.len(), 8 + 54);
        let alaw = write_g711(Law::A, &[0xD5; 4]).unwrap();
        assert_eq!(alaw.get(20..22), Some([6u8, 0].as_slice()));
        assert_eq!(
            alaw.len(),
            G711_HEADER_LEN + 4,
            "even data needs no pad byte"
        );
    }

    #[test]
    fn written_files_read_back() {
        let audio: Vec<u8> = (0..=255).collect();
        for law in [Law::Mu, Law::A] {
            let file = write_g711(law, &audio).unwrap();
            let wav = read(&file).unwrap();
            assert_eq!(wav.format, SampleFormat::G711(law));
            assert_eq!(wav.data, audio);
            assert_eq!(wav.to_g711(law), audio);
        }
    }

    fn pcm_file(samples: &[i16], extensible: bool) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&(if extensible { 0xFFFEu16 } else { 1 }).to_le_bytes());
        fmt.extend_from_slice(&1u16.to_le_bytes());
        fmt.extend_from_slice(&8000u32.to_le_bytes());
        fmt.extend_from_slice(&16000u32.to_le_bytes());
        fmt.extend_from_slice(&2u16.to_le_bytes());
        fmt.extend_from_slice(&16u16.to_le_bytes());
        if extensible {
            fmt.extend_from_slice(&22u16.to_le_bytes());
            fmt.extend_from_slice(&16u16.to_le_bytes());
            fmt.extend_from_slice(&4u32.to_le_bytes());
            fmt.extend_from_slice(&1u16.to_le_bytes());
            fmt.extend_from_slice(&[0; 14]);
        }
        let mut file = b"RIFF\0\0\0\0WAVE".to_vec();
        // An unrelated chunk with an odd size (and its pad byte) before fmt.
        file.extend_from_slice(b"LIST\x03\0\0\0abc\0");
        file.extend_from_slice(b"fmt ");
        file.extend_from_slice(&u32::try_from(fmt.len()).unwrap().to_le_bytes());
        file.extend_from_slice(&fmt);
        file.extend_from_slice(b"data");
        file.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
        file.extend_from_slice(&data);
        file
    }

    #[test]
    fn pcm_is_encoded_in_the_requested_law() {
        for extensible in [false, true] {
            let file = pcm_file(&[0, 32767, -32768, 1000], extensible);
            let wav = read(&file).unwrap();
            assert_eq!(wav.format, SampleFormat::Pcm16);
            let expect_mu: Vec<u8> = [0, 32767, -32768, 1000]
                .map(|s| Law::Mu.encode_sample(s))
                .to_vec();
            assert_eq!(wav.to_g711(Law::Mu), expect_mu);
            assert_eq!(wav.to_g711(Law::A)[0], 0xD5);
        }
    }

    #[test]
    fn a_streamed_data_size_runs_to_the_end() {
        let mut file = write_g711(Law::Mu, &[1, 2, 3, 4]).unwrap();
        let size_at = G711_HEADER_LEN - 4;
        file[size_at..size_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read(&file).unwrap().data, [1, 2, 3, 4]);
    }

    #[test]
    fn refuses_what_it_cannot_play() {
        assert_eq!(
            read(b"RIFX\0\0\0\0WAVE"),
            Err(WavError::Malformed("no riff wave header"))
        );
        assert_eq!(
            read(b"RIFF\0\0\0\0WAVE"),
            Err(WavError::Malformed("no data chunk"))
        );
        assert_eq!(
            read(b"RIFF\0\0\0\0WAVEdata\x01\0\0\0\0\0"),
            Err(WavError::Malformed("data before fmt"))
        );
        assert_eq!(
            read(b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0"),
            Err(WavError::Malformed("fmt chunk runs past the end"))
        );
        let mut stereo = pcm_file(&[0, 0], false);
        stereo[12 + 12 + 8 + 2] = 2;
        assert_eq!(
            read(&stereo),
            Err(WavError::Unsupported {
                tag: 1,
                channels: 2,
                rate: 8000,
                bits: 16
            })
        );
        let mut wideband = pcm_file(&[0, 0], false);
        wideband[12 + 12 + 8 + 4..12 + 12 + 8 + 8].copy_from_slice(&16000u32.to_le_bytes());
        assert!(matches!(
            read(&wideband),
            Err(WavError::Unsupported { rate: 16000, .. })
        ));
        // A chunk size that would overflow the offset.
        let mut huge = b"RIFF\0\0\0\0WAVEjunk".to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(read(&huge).is_err());
        assert_eq!(
            read(&vec![0; MAX_WAV_BYTES + 1]),
            Err(WavError::TooLarge(MAX_WAV_BYTES + 1))
        );
    }
}
