//! Exposition text compressed once and served to many scrapes.
//!
//! An exporter that renders a large snapshot once per collection (kafka-exporter: tens of MiB of
//! text on a big cluster) would otherwise copy and gzip all of it on every scrape, and keep the
//! text resident between scrapes. [`SharedText`] keeps only its raw DEFLATE stream (a few
//! percent of the text) with the text's CRC-32 and length. A gzip scrape then costs the
//! compression of the small per-scrape part only: that part is deflated with a sync flush
//! (which ends on a byte boundary, with no final block) and the stored stream is appended after
//! it, inside one gzip member whose trailer combines both CRCs. Any gzip reader sees one
//! ordinary member. A scrape without gzip inflates the stored stream.

use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress, Status};

/// A gzip member's fixed header: magic, DEFLATE, no flags, no mtime, no extra flags, OS unknown.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// Text in the exposition format, stored as a raw DEFLATE stream.
#[derive(Debug, Clone)]
pub struct SharedText {
    deflate: Vec<u8>,
    crc: u32,
    len: u64,
}

/// Builds a [`SharedText`] from pieces of text written in order, without holding the text.
pub struct SharedTextWriter {
    enc: flate2::write::DeflateEncoder<Vec<u8>>,
    crc: crc32fast::Hasher,
    len: u64,
}

impl Default for SharedTextWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl SharedTextWriter {
    pub fn new() -> Self {
        Self {
            // The fastest level: exposition text is repetitive and compresses well anyway.
            enc: flate2::write::DeflateEncoder::new(Vec::new(), Compression::fast()),
            crc: crc32fast::Hasher::new(),
            len: 0,
        }
    }

    /// Appends `text`.
    pub fn push(&mut self, text: &[u8]) {
        self.crc.update(text);
        self.len += text.len() as u64;
        // Writing into a Vec cannot fail.
        let _ = self.enc.write_all(text);
    }

    pub fn finish(self) -> SharedText {
        let mut deflate = self.enc.finish().unwrap_or_default();
        deflate.shrink_to_fit();
        SharedText {
            deflate,
            crc: self.crc.finalize(),
            len: self.len,
        }
    }
}

impl SharedText {
    /// Length of the text, uncompressed.
    pub fn text_len(&self) -> u64 {
        self.len
    }

    /// Bytes held.
    pub fn compressed_len(&self) -> usize {
        self.deflate.len()
    }

    /// Appends the text to `out`.
    pub fn inflate_into(&self, out: &mut Vec<u8>) -> io::Result<()> {
        out.reserve(usize::try_from(self.len).unwrap_or(0));
        let mut dec = flate2::write::DeflateDecoder::new(out);
        dec.write_all(&self.deflate)?;
        dec.try_finish()
    }

    /// One gzip member holding `head` followed by this text.
    pub fn gzip_after(&self, head: &[u8]) -> io::Result<Vec<u8>> {
        let mut out =
            Vec::with_capacity(GZIP_HEADER.len() + head.len() / 3 + 64 + self.deflate.len() + 8);
        out.extend_from_slice(&GZIP_HEADER);
        let mut c = Compress::new(Compression::fast(), false);
        loop {
            let done = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
            let rest = head.get(done..).unwrap_or_default();
            out.reserve(rest.len() / 2 + 1024);
            let status = c
                .compress_vec(rest, &mut out, FlushCompress::Sync)
                .map_err(io::Error::other)?;
            // zlib's rule: the flush is complete once all input is in and output space is left.
            let all_in = c.total_in() == head.len() as u64;
            if all_in && out.len() < out.capacity() || status == Status::StreamEnd {
                break;
            }
        }
        out.extend_from_slice(&self.deflate);
        let mut crc = crc32fast::Hasher::new();
        crc.update(head);
        crc.combine(&crc32fast::Hasher::new_with_initial_len(self.crc, self.len));
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        // ISIZE: the length modulo 2^32.
        let total = (head.len() as u64).wrapping_add(self.len);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(z: &[u8]) -> Vec<u8> {
        // A single-member reader: it must see everything in the first member.
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(z)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn one_gzip_member_holds_head_and_text() {
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| {
                format!(
                    "kafka_topic_partition_current_offset{{partition=\"{i}\",topic=\"t\"}} {i}\n"
                )
                .into_bytes()
            })
            .collect();
        let mut w = SharedTextWriter::new();
        for chunk in text.chunks(7_777) {
            w.push(chunk);
        }
        let shared = w.finish();
        assert_eq!(shared.text_len(), text.len() as u64);
        assert!(shared.compressed_len() < text.len() / 5);

        for head in [&b""[..], b"process_open_fds 7\n", &text[..5000]] {
            let z = shared.gzip_after(head).unwrap();
            let mut want = head.to_vec();
            want.extend_from_slice(&text);
            assert_eq!(gunzip(&z), want);
            // Exactly one member: the bytes end where the first member's trailer ends.
            let mut d = flate2::bufread::GzDecoder::new(&z[..]);
            io::copy(&mut d, &mut io::sink()).unwrap();
            assert!(d.into_inner().is_empty());
        }

        let mut plain = b"head\n".to_vec();
        shared.inflate_into(&mut plain).unwrap();
        assert_eq!(&plain[5..], &text[..]);
    }

    #[test]
    fn empty_text() {
        let shared = SharedTextWriter::new().finish();
        assert_eq!(gunzip(&shared.gzip_after(b"a 1\n").unwrap()), b"a 1\n");
        let mut out = Vec::new();
        shared.inflate_into(&mut out).unwrap();
        assert!(out.is_empty());
    }
}
