//! HTTP/1.1 for the stateful generator (RFC 9112), streaming and allocation-free: a response
//! parser for the client and a request parser for the server, each a few dozen bytes of state
//! fed whatever the receive ring holds, in pieces of any size, so no connection keeps a header
//! buffer. Also the generated body content, a pattern both ends know, so a client can check a
//! response byte by byte without the server keeping a copy per connection.
//!
//! The response parser reads the status line, `Content-Length`, `Transfer-Encoding: chunked`
//! (with chunk extensions and trailers) and `Connection: close`; a body without either framing
//! ends with the connection (RFC 9112 §6.3 rule 8), and 1xx, 204 and 304 responses have none
//! (§6.3 rules 1–2). Anything else malformed is a [`BadResponse`].

/// Largest response or request head (status or request line and headers) accepted.
pub const HEAD_MAX: u32 = 16 * 1024;

/// The response violated HTTP/1.1 framing; the reason, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadResponse(pub &'static str);

impl core::fmt::Display for BadResponse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "bad response: {}", self.0)
    }
}

/// The generated content repeats every this many bytes: a sender keeps one shared, immutable
/// copy of at most this size and sends slices of it, whatever the body's length.
pub const PATTERN_PERIOD: u64 = 1 << 20;

/// Byte `i` of every generated body (and program transfer): 64 printable characters, rotated
/// per 64-byte block by a hash of the block number so a misplaced block shows; period
/// [`PATTERN_PERIOD`].
#[inline]
pub fn body_byte(i: u64) -> u8 {
    const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let i = i % PATTERN_PERIOD;
    let rot = ((i / 64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize;
    ALPHA[((i % 64) as usize + rot) % 64]
}

/// The shared copy of the generated content for transfers of up to `len` bytes: `len` bytes,
/// or one period for longer ones (built once per server or client, never per connection).
pub fn body(len: u64) -> Vec<u8> {
    (0..len.min(PATTERN_PERIOD)).map(body_byte).collect()
}

/// The slice of `pattern` (from [`body`]) holding content bytes from offset `at`, at most
/// `left` of them.
#[inline]
pub fn pattern_slice(pattern: &[u8], at: u64, left: u64) -> &[u8] {
    let start = (at % PATTERN_PERIOD) as usize;
    let n = ((pattern.len() - start) as u64).min(left) as usize;
    &pattern[start..start + n]
}

/// Whether `data` is the generated body from offset `at` on.
pub fn body_matches(at: u64, data: &[u8]) -> bool {
    data.iter()
        .enumerate()
        .all(|(k, &b)| b == body_byte(at + k as u64))
}

/// Header names the parsers look for (lower case), by index.
const NAMES: [&[u8]; 3] = [b"content-length", b"transfer-encoding", b"connection"];
const CONTENT_LENGTH: u8 = 0;
const TRANSFER_ENCODING: u8 = 1;
const CONNECTION: u8 = 2;
/// Every candidate still possible at the start of a name.
const ALL_NAMES: u8 = 0b111;

const F_CHUNKED: u8 = 1;
const F_LENGTH: u8 = 2;
const F_CLOSE: u8 = 4;
/// A value matched so far (the token being compared is still a prefix).
const F_MATCHING: u8 = 8;
/// The response is HTTP/1.0 (not persistent unless it says keep-alive; we treat it as close).
const F_HTTP10: u8 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum St {
    Status,
    StatusLf,
    LineStart,
    HeadLf,
    Name,
    Value,
    ValueLf,
    Body,
    UntilClose,
    ChunkSize,
    ChunkExt,
    ChunkSizeLf,
    ChunkData,
    ChunkDataCr,
    ChunkDataLf,
    TrailerStart,
    TrailerLine,
    TrailerEndLf,
    Done,
}

/// What [`ResponseParser::feed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    More,
    /// The response is complete; bytes after it (a pipelined next response) were not used.
    Done,
}

/// A streaming HTTP/1.1 response parser (32 bytes).
#[derive(Debug, Clone, Copy)]
pub struct ResponseParser {
    num: u64,
    body_seen: u64,
    head_len: u32,
    status: u16,
    pos: u16,
    st: St,
    cand: u8,
    flags: u8,
    /// The header whose value is being read (an index of `NAMES`, or `u8::MAX`).
    header: u8,
}

impl Default for ResponseParser {
    fn default() -> Self {
        ResponseParser::new()
    }
}

impl ResponseParser {
    /// A parser waiting for a status line.
    pub const fn new() -> ResponseParser {
        ResponseParser {
            num: 0,
            body_seen: 0,
            head_len: 0,
            status: 0,
            pos: 0,
            st: St::Status,
            cand: 0,
            flags: 0,
            header: u8::MAX,
        }
    }

    /// Whether no byte has been fed yet.
    pub fn is_fresh(&self) -> bool {
        self.st == St::Status && self.head_len == 0
    }

    /// Bytes of the head fed so far (all of it once [`ResponseParser::head_done`]).
    pub fn head_len(&self) -> u32 {
        self.head_len
    }

    /// The status code (0 before the status line is read).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Body bytes seen so far (framing excluded).
    pub fn body_seen(&self) -> u64 {
        self.body_seen
    }

    /// Whether the head is complete (the body, if any, is being read).
    pub fn head_done(&self) -> bool {
        !matches!(
            self.st,
            St::Status
                | St::StatusLf
                | St::LineStart
                | St::HeadLf
                | St::Name
                | St::Value
                | St::ValueLf
        )
    }

    /// Whether the server will close after this response (`Connection: close`, HTTP/1.0, or a
    /// body that ends with the connection).
    pub fn closes(&self) -> bool {
        self.flags & (F_CLOSE | F_HTTP10) != 0 || self.st == St::UntilClose
    }

    /// Whether the response is complete.
    pub fn is_done(&self) -> bool {
        self.st == St::Done
    }

    /// The peer closed its side: completes a body that ends with the connection, else the
    /// response was cut short (`false`).
    pub fn on_close(&mut self) -> bool {
        if self.st == St::UntilClose {
            self.st = St::Done;
        }
        self.st == St::Done
    }

    /// Feeds received bytes; `on_body(offset, bytes)` sees each piece of the body. Returns how
    /// many bytes belong to this response and whether it is complete.
    pub fn feed(
        &mut self,
        data: &[u8],
        mut on_body: impl FnMut(u64, &[u8]),
    ) -> Result<(usize, Progress), BadResponse> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            match self.st {
                St::Body | St::ChunkData => {
                    let n = (data.len() - i).min(usize::try_from(self.num).unwrap_or(usize::MAX));
                    on_body(self.body_seen, &data[i..i + n]);
                    self.body_seen += n as u64;
                    self.num -= n as u64;
                    i += n;
                    if self.num == 0 {
                        self.st = if self.st == St::Body {
                            St::Done
                        } else {
                            St::ChunkDataCr
                        };
                    }
                    if self.st == St::Done {
                        return Ok((i, Progress::Done));
                    }
                    continue;
                }
                St::UntilClose => {
                    on_body(self.body_seen, &data[i..]);
                    self.body_seen += (data.len() - i) as u64;
                    return Ok((data.len(), Progress::More));
                }
                St::Done => return Ok((i, Progress::Done)),
                _ => {}
            }
            i += 1;
            if !self.head_done() {
                self.head_len += 1;
                if self.head_len > HEAD_MAX {
                    return Err(BadResponse("head longer than 16 KiB"));
                }
            }
            self.step(b)?;
            if self.st == St::Done {
                return Ok((i, Progress::Done));
            }
        }
        Ok((i, Progress::More))
    }

    fn step(&mut self, b: u8) -> Result<(), BadResponse> {
        match self.st {
            St::Status => self.status_byte(b)?,
            St::StatusLf => {
                if b != b'\n' {
                    return Err(BadResponse("CR without LF"));
                }
                self.st = St::LineStart;
            }
            St::LineStart => match b {
                b'\r' => self.st = St::HeadLf,
                b'\n' => self.end_head()?,
                b' ' | b'\t' => return Err(BadResponse("obsolete line folding")),
                _ => {
                    self.st = St::Name;
                    self.cand = ALL_NAMES;
                    self.pos = 0;
                    self.name_byte(b)?;
                }
            },
            St::HeadLf => {
                if b != b'\n' {
                    return Err(BadResponse("CR without LF"));
                }
                self.end_head()?;
            }
            St::Name => self.name_byte(b)?,
            St::Value => self.value_byte(b)?,
            St::ValueLf => {
                if b != b'\n' {
                    return Err(BadResponse("CR without LF"));
                }
                self.end_value()?;
                self.st = St::LineStart;
            }
            St::ChunkSize => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    let d = (b as char).to_digit(16).unwrap_or(0);
                    self.num = self
                        .num
                        .checked_mul(16)
                        .and_then(|n| n.checked_add(u64::from(d)))
                        .ok_or(BadResponse("chunk size overflows"))?;
                    self.pos += 1;
                }
                b';' | b' ' | b'\t' if self.pos > 0 => self.st = St::ChunkExt,
                b'\r' if self.pos > 0 => self.st = St::ChunkSizeLf,
                b'\n' if self.pos > 0 => self.chunk_start(),
                _ => return Err(BadResponse("bad chunk size")),
            },
            St::ChunkExt => match b {
                b'\r' => self.st = St::ChunkSizeLf,
                b'\n' => self.chunk_start(),
                _ => {}
            },
            St::ChunkSizeLf => {
                if b != b'\n' {
                    return Err(BadResponse("CR without LF"));
                }
                self.chunk_start();
            }
            St::ChunkDataCr => match b {
                b'\r' => self.st = St::ChunkDataLf,
                b'\n' => self.next_chunk(),
                _ => return Err(BadResponse("chunk longer than its size")),
            },
            St::ChunkDataLf => {
                if b != b'\n' {
                    return Err(BadResponse("CR without LF"));
                }
                self.next_chunk();
            }
            St::TrailerStart => match b {
                b'\r' => self.st = St::TrailerEndLf,
                b'\n' => self.st = St::Done,
                _ => self.st = St::TrailerLine,
            },
            St::TrailerLine => {
                if b == b'\n' {
                    self.st = St::TrailerStart;
                }
            }
            St::TrailerEndLf => {
                if b != b'\n' {
                    return Err(BadResponse("CR without LF"));
                }
                self.st = St::Done;
            }
            St::Body | St::ChunkData | St::UntilClose | St::Done => {}
        }
        Ok(())
    }

    /// `HTTP/1.x SSS reason CRLF`, checked position by position.
    fn status_byte(&mut self, b: u8) -> Result<(), BadResponse> {
        let p = self.pos;
        self.pos = self.pos.saturating_add(1);
        let ok = match p {
            0..=4 => b == b"HTTP/"[p as usize],
            5 => b == b'1',
            6 => b == b'.',
            7 => {
                if b == b'0' {
                    self.flags |= F_HTTP10;
                }
                b.is_ascii_digit()
            }
            8 => b == b' ',
            9..=11 => {
                if b.is_ascii_digit() {
                    self.status = self.status * 10 + u16::from(b - b'0');
                    true
                } else {
                    false
                }
            }
            12 => matches!(b, b' ' | b'\r' | b'\n'),
            _ => b != 0,
        };
        if !ok {
            return Err(BadResponse("malformed status line"));
        }
        if p >= 12 {
            match b {
                b'\r' => self.st = St::StatusLf,
                b'\n' => self.st = St::LineStart,
                _ => {}
            }
        }
        if self.status != 0 && p == 11 && self.status < 100 {
            return Err(BadResponse("status below 100"));
        }
        Ok(())
    }

    fn name_byte(&mut self, b: u8) -> Result<(), BadResponse> {
        if b == b':' {
            if self.pos == 0 {
                return Err(BadResponse("empty header name"));
            }
            self.header = (0..NAMES.len() as u8)
                .find(|&k| {
                    self.cand & (1 << k) != 0 && NAMES[k as usize].len() == self.pos as usize
                })
                .unwrap_or(u8::MAX);
            self.st = St::Value;
            self.pos = 0;
            self.flags |= F_MATCHING;
            if self.header == CONTENT_LENGTH {
                if self.flags & F_LENGTH != 0 {
                    // RFC 9112 §6.3 rule 5 allows identical repeats; we refuse them all.
                    return Err(BadResponse("repeated Content-Length"));
                }
                self.num = 0;
            }
            return Ok(());
        }
        if !is_tchar(b) {
            return Err(BadResponse("bad header name"));
        }
        let lower = b.to_ascii_lowercase();
        for (k, name) in NAMES.iter().enumerate() {
            if self.cand & (1 << k) != 0 && name.get(self.pos as usize) != Some(&lower) {
                self.cand &= !(1 << k);
            }
        }
        self.pos = self.pos.saturating_add(1);
        Ok(())
    }

    fn value_byte(&mut self, b: u8) -> Result<(), BadResponse> {
        if b == b'\r' {
            self.st = St::ValueLf;
            return Ok(());
        }
        if b == b'\n' {
            self.end_value()?;
            self.st = St::LineStart;
            return Ok(());
        }
        if b != b'\t' && (b < 0x20 || b == 0x7f) {
            return Err(BadResponse("control character in a header value"));
        }
        let ows = b == b' ' || b == b'\t';
        match self.header {
            CONTENT_LENGTH => {
                if ows {
                    if self.pos > 0 {
                        // Trailing whitespace: no more digits.
                        self.flags &= !F_MATCHING;
                    }
                } else if b.is_ascii_digit() && self.flags & F_MATCHING != 0 {
                    self.num = self
                        .num
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(b - b'0')))
                        .ok_or(BadResponse("Content-Length overflows"))?;
                    self.pos += 1;
                } else {
                    return Err(BadResponse("bad Content-Length"));
                }
            }
            TRANSFER_ENCODING | CONNECTION => {
                if ows && self.pos == 0 {
                    return Ok(());
                }
                let want: &[u8] = if self.header == TRANSFER_ENCODING {
                    b"chunked"
                } else {
                    b"close"
                };
                if want.get(self.pos as usize) != Some(&b.to_ascii_lowercase()) && !ows {
                    self.flags &= !F_MATCHING;
                }
                if !ows {
                    self.pos = self.pos.saturating_add(1);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end_value(&mut self) -> Result<(), BadResponse> {
        let matched = self.flags & F_MATCHING != 0;
        match self.header {
            CONTENT_LENGTH => {
                if self.pos == 0 {
                    return Err(BadResponse("empty Content-Length"));
                }
                self.flags |= F_LENGTH;
            }
            TRANSFER_ENCODING => {
                if matched && self.pos == 7 {
                    self.flags |= F_CHUNKED;
                } else {
                    return Err(BadResponse("transfer coding other than chunked"));
                }
            }
            CONNECTION if matched && self.pos == 5 => self.flags |= F_CLOSE,
            _ => {}
        }
        self.flags &= !F_MATCHING;
        self.header = u8::MAX;
        Ok(())
    }

    fn end_head(&mut self) -> Result<(), BadResponse> {
        if (100..200).contains(&self.status) {
            // An interim response (RFC 9110 §15.2): the final one follows.
            let keep = self.flags & F_HTTP10;
            *self = ResponseParser::new();
            self.flags = keep;
            return Ok(());
        }
        let chunked = self.flags & F_CHUNKED != 0;
        let length = self.flags & F_LENGTH != 0;
        self.st = if self.status == 204 || self.status == 304 {
            St::Done
        } else if chunked {
            // RFC 9112 §6.3 rule 4: chunked wins over Content-Length (we refuse both).
            if length {
                return Err(BadResponse("both Content-Length and chunked"));
            }
            self.num = 0;
            self.pos = 0;
            St::ChunkSize
        } else if length {
            if self.num == 0 {
                St::Done
            } else {
                St::Body
            }
        } else {
            St::UntilClose
        };
        Ok(())
    }

    fn chunk_start(&mut self) {
        self.st = if self.num == 0 {
            St::TrailerStart
        } else {
            St::ChunkData
        };
    }

    fn next_chunk(&mut self) {
        self.num = 0;
        self.pos = 0;
        self.st = St::ChunkSize;
    }
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A request the server read: whether the client asked to close after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// `Connection: close`, or HTTP/1.0.
    pub close: bool,
}

/// A streaming parser of HTTP/1.1 request heads for the server (24 bytes): finds the end of the
/// head, `Connection: close` and the version; a request with a body (`Content-Length` above
/// 0 or chunked) is refused, as the generator's client never sends one.
#[derive(Debug, Clone, Copy)]
pub struct RequestParser {
    /// The last 8 bytes of the request line (for its version).
    tail: u64,
    inner: ResponseParser,
    line_done: bool,
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser::new()
    }
}

impl RequestParser {
    /// A parser waiting for a request line.
    pub const fn new() -> RequestParser {
        let mut inner = ResponseParser::new();
        inner.st = St::LineStart;
        RequestParser {
            tail: 0,
            inner,
            line_done: false,
        }
    }

    /// Feeds received bytes; returns how many belong to this head and, once it is complete,
    /// the request.
    pub fn feed(&mut self, data: &[u8]) -> Result<(usize, Option<Request>), BadResponse> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            i += 1;
            self.inner.head_len += 1;
            if self.inner.head_len > HEAD_MAX {
                return Err(BadResponse("request head longer than 16 KiB"));
            }
            if !self.line_done {
                match b {
                    b'\r' => {}
                    b'\n' => {
                        self.line_done = true;
                        let v = self.tail.to_be_bytes();
                        if &v[..7] != b"HTTP/1." || !v[7].is_ascii_digit() {
                            return Err(BadResponse("malformed request line"));
                        }
                        if v[7] == b'0' {
                            self.inner.flags |= F_HTTP10;
                        }
                    }
                    0..=0x1f | 0x7f => return Err(BadResponse("malformed request line")),
                    _ => self.tail = (self.tail << 8) | u64::from(b),
                }
                continue;
            }
            if b == b'\n' && matches!(self.inner.st, St::LineStart | St::HeadLf) {
                let p = &self.inner;
                if p.flags & F_CHUNKED != 0 || (p.flags & F_LENGTH != 0 && p.num > 0) {
                    return Err(BadResponse("request with a body"));
                }
                let close = p.flags & (F_CLOSE | F_HTTP10) != 0;
                *self = RequestParser::new();
                return Ok((i, Some(Request { close })));
            }
            self.inner.step(b)?;
        }
        Ok((i, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `text` in pieces of `step` bytes; returns (status, body, closes, bytes used).
    fn parse(text: &[u8], step: usize) -> Result<(u16, Vec<u8>, bool, usize), BadResponse> {
        let mut p = ResponseParser::new();
        let mut body = Vec::new();
        let mut used = 0;
        for piece in text.chunks(step) {
            let (n, prog) = p.feed(piece, |off, b| {
                assert_eq!(off as usize, body.len());
                body.extend_from_slice(b);
            })?;
            used += n;
            if prog == Progress::Done {
                return Ok((p.status(), body, p.closes(), used));
            }
        }
        if p.on_close() {
            return Ok((p.status(), body, p.closes(), used));
        }
        Err(BadResponse("incomplete"))
    }

    #[test]
    fn content_length_any_split() {
        let r = b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
        for step in 1..r.len() {
            let (s, b, c, used) = parse(r, step).unwrap();
            assert_eq!(
                (s, b.as_slice(), c, used),
                (200, &b"hello"[..], false, r.len() - 5)
            );
        }
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let r = b"HTTP/1.1 200 OK\r\ntransfer-encoding:  Chunked\r\n\r\n3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n";
        for step in 1..r.len() {
            let (s, b, _, used) = parse(r, step).unwrap();
            assert_eq!(s, 200);
            assert_eq!(b, b"abc0123456789abcdef");
            assert_eq!(used, r.len());
        }
    }

    #[test]
    fn close_and_until_close() {
        let (_, b, c, _) = parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nrest", 3).unwrap();
        assert!(c);
        assert_eq!(b, b"rest");
        let (s, b, _, _) = parse(b"HTTP/1.1 204 No Content\r\n\r\n", 1).unwrap();
        assert_eq!((s, b.len()), (204, 0));
        let (s, _, c, _) = parse(b"HTTP/1.0 200 OK\nContent-Length: 0\n\n", 2).unwrap();
        assert_eq!((s, c), (200, true));
        let (s, b, _, _) = parse(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz",
            4,
        )
        .unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"z"[..]));
    }

    #[test]
    fn malformed() {
        for bad in [
            &b"HTTX/1.1 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
            b"HTTP/1.1 200 OK\rX",
            b"garbage",
        ] {
            assert!(parse(bad, 1).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long.resize(20_000, b'a');
        assert!(parse(&long, 1000).is_err());
        // Cut short: the connection closed inside the body.
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", 5).is_err());
    }

    #[test]
    fn requests() {
        let mut p = RequestParser::new();
        let two = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nConnection: close\r\n\r\n";
        let (n, r) = p.feed(two).unwrap();
        assert_eq!(r, Some(Request { close: false }));
        let (m, r) = p.feed(&two[n..]).unwrap();
        assert_eq!((n + m, r), (two.len(), Some(Request { close: true })));
        let mut p = RequestParser::new();
        for b in b"GET / HTTP/1.0\r\n\r\n".chunks(1) {
            if let (_, Some(r)) = p.feed(b).unwrap() {
                assert!(r.close);
            }
        }
        assert!(RequestParser::new().feed(b"GET / FTP\r\n\r\n").is_err());
        assert!(RequestParser::new()
            .feed(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
            .is_err());
    }

    /// Random bytes never panic either parser, and valid responses built at random parse to
    /// the same result however they are split.
    #[test]
    fn random_input_and_splits() {
        let mut rng = burst_port::clock::SplitMix64::new(14);
        let alphabet = b"HTTP/1.0 2: \r\n;abcdefContent-LengthTransfer-Encodingchunked09";
        for _ in 0..20_000 {
            let n = (rng.next_u64() % 200) as usize;
            let junk: Vec<u8> = (0..n)
                .map(|_| {
                    let r = rng.next_u64();
                    if r % 4 == 0 {
                        r as u8 >> 1
                    } else {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    }
                })
                .collect();
            let mut p = ResponseParser::new();
            let _ = p.feed(&junk, |_, _| {});
            let mut q = RequestParser::new();
            let _ = q.feed(&junk);
        }
        for i in 0..500u64 {
            let len = rng.next_u64() % 3000;
            let body = super::body(len);
            let mut r = b"HTTP/1.1 200 OK\r\nX-Pad: ".to_vec();
            r.extend(std::iter::repeat_n(b'p', (i % 50) as usize));
            if i % 2 == 0 {
                r.extend_from_slice(format!("\r\nContent-Length: {len}\r\n\r\n").as_bytes());
                r.extend_from_slice(&body);
            } else {
                r.extend_from_slice(b"\r\nTransfer-Encoding: chunked\r\n\r\n");
                for piece in body.chunks(1 + (i as usize % 700)) {
                    r.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    r.extend_from_slice(piece);
                    r.extend_from_slice(b"\r\n");
                }
                r.extend_from_slice(b"0\r\n\r\n");
            }
            let step = 1 + (rng.next_u64() % 64) as usize;
            let (s, b, _, used) = parse(&r, step).unwrap();
            assert_eq!((s, used), (200, r.len()));
            assert_eq!(b, body);
            assert!(body_matches(0, &b));
        }
    }

    #[test]
    fn body_pattern() {
        let b = body(4096);
        assert!(body_matches(0, &b));
        assert!(body_matches(100, &b[100..]));
        assert!(!body_matches(64, &b[..64]), "blocks differ");
        assert_eq!(core::mem::size_of::<ResponseParser>(), 32);
    }
}
