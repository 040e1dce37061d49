//! RELP, the Reliable Event Logging Protocol (rsyslog's `imrelp`): syslog messages that the
//! receiver acknowledges one by one, so a forwarder knows what arrived instead of guessing.
//! Only the framing lives here; the connection is the server's (`forwarding.rs`).
//!
//! A frame is `TXNR SP COMMAND SP DATALEN [SP DATA] LF`: a transaction number from 1 to
//! 999,999,999 (then 1 again), a command (`open`, `syslog`, `close`; the receiver answers
//! `rsp`, or `serverclose` when it is going away), and the length of the data in bytes. A
//! response's data starts with a three-digit status: `200 OK` is an acknowledgement.

use std::fmt;

/// The largest transaction number; the next one is 1.
pub const MAX_TXNR: u32 = 999_999_999;
/// Responses longer than this are refused: acknowledgements are a few bytes, and an `open`
/// answer a few hundred.
pub const MAX_RESPONSE_DATA: usize = 64 * 1024;
const MAX_COMMAND: usize = 32;

/// The offers of an `open` command: protocol version 0, and the one command we use.
pub fn open_offers() -> String {
    format!("relp_version=0\nrelp_software=mamori,{}\ncommands=syslog", env!("CARGO_PKG_VERSION"))
}

/// One frame, ready to send.
pub fn frame(txnr: u32, command: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + command.len() + 24);
    out.extend_from_slice(format!("{txnr} {command} {}", data.len()).as_bytes());
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data);
    }
    out.push(b'\n');
    out
}

/// The transaction number after `txnr`.
pub fn next_txnr(txnr: u32) -> u32 {
    if txnr >= MAX_TXNR { 1 } else { txnr + 1 }
}

/// A frame from the receiver.
#[derive(Debug, PartialEq, Eq)]
pub struct Response<'a> {
    pub txnr: u32,
    pub command: &'a str,
    pub data: &'a [u8],
}

impl Response<'_> {
    /// The status code of an `rsp` frame (`200` acknowledges), if its data starts with one.
    pub fn status(&self) -> Option<u16> {
        let code = self.data.get(..3)?;
        let rest = self.data.get(3..).unwrap_or_default();
        if !code.iter().all(u8::is_ascii_digit) || rest.first().is_some_and(|b| *b != b' ' && *b != b'\n') {
            return None;
        }
        std::str::from_utf8(code).ok()?.parse().ok()
    }

    /// The status line for messages (`500 …`), without the offers that may follow it.
    pub fn status_text(&self) -> String {
        let line = self.data.split(|b| *b == b'\n').next().unwrap_or_default();
        String::from_utf8_lossy(line).into_owned()
    }
}

/// A receiver that does not speak RELP (or a broken stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelpError(pub &'static str);

impl fmt::Display for RelpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a RELP frame: {}", self.0)
    }
}

impl std::error::Error for RelpError {}

/// Reads the first frame in `buf`: `Ok(None)` when more bytes are needed, otherwise the frame
/// and how many bytes it took.
pub fn parse(buf: &[u8]) -> Result<Option<(Response<'_>, usize)>, RelpError> {
    let mut at = 0;
    // TXNR: 1 to 9 digits (0 only for `serverclose`).
    let Some(txnr) = field(buf, &mut at, 9, |b| b.is_ascii_digit())? else { return Ok(None) };
    let txnr: u32 =
        std::str::from_utf8(txnr).ok().and_then(|t| t.parse().ok()).ok_or(RelpError("bad txnr"))?;
    let Some(command) = field(buf, &mut at, MAX_COMMAND, |b| b.is_ascii_alphabetic())? else {
        return Ok(None);
    };
    let command = std::str::from_utf8(command).map_err(|_| RelpError("bad command"))?;
    // DATALEN, ended by a space (data follows) or the trailer (no data).
    let start = at;
    while let Some(b) = buf.get(at) {
        if !b.is_ascii_digit() {
            break;
        }
        at += 1;
        if at - start > 9 {
            return Err(RelpError("data length too long"));
        }
    }
    let Some(&after) = buf.get(at) else { return Ok(None) };
    if at == start {
        return Err(RelpError("no data length"));
    }
    let len: usize = std::str::from_utf8(&buf[start..at])
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(RelpError("bad data length"))?;
    if len > MAX_RESPONSE_DATA {
        return Err(RelpError("response too long"));
    }
    match (after, len) {
        (b'\n', 0) => Ok(Some((Response { txnr, command, data: &[] }, at + 1))),
        (b' ', _) => {
            let from = at + 1;
            let (Some(data), Some(trailer)) = (buf.get(from..from + len), buf.get(from + len)) else {
                return Ok(None);
            };
            if *trailer != b'\n' {
                return Err(RelpError("no trailer after the data"));
            }
            Ok(Some((Response { txnr, command, data }, from + len + 1)))
        }
        _ => Err(RelpError("bad separator after the data length")),
    }
}

/// A token of at most `max` bytes that `ok` accepts, ended by a space (consumed).
fn field<'a>(
    buf: &'a [u8],
    at: &mut usize,
    max: usize,
    ok: impl Fn(&u8) -> bool,
) -> Result<Option<&'a [u8]>, RelpError> {
    let start = *at;
    loop {
        match buf.get(*at) {
            None => return Ok(None),
            Some(b' ') if *at > start => {
                *at += 1;
                return Ok(Some(&buf[start..*at - 1]));
            }
            Some(b) if ok(b) && *at - start < max => *at += 1,
            Some(_) => return Err(RelpError("bad header")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(frame(1, "syslog", b"<110>1 x"), b"1 syslog 8 <110>1 x\n");
        assert_eq!(frame(7, "close", b""), b"7 close 0\n");
        assert_eq!(next_txnr(1), 2);
        assert_eq!(next_txnr(MAX_TXNR), 1);
        assert!(open_offers().starts_with("relp_version=0\n"));
    }

    #[test]
    fn responses() {
        let (r, used) = parse(b"2 rsp 6 200 OK\n3 rsp").unwrap().unwrap();
        assert_eq!((r.txnr, r.command, r.data, used), (2, "rsp", &b"200 OK"[..], 15));
        assert_eq!(r.status(), Some(200));
        let open = b"1 rsp 37 200 OK\nrelp_version=0\ncommands=syslog\n";
        let (r, used) = parse(open).unwrap().unwrap();
        assert_eq!((r.status(), r.status_text(), used), (Some(200), "200 OK".to_owned(), open.len()));
        let (r, _) = parse(b"0 serverclose 0\n").unwrap().unwrap();
        assert_eq!((r.txnr, r.command, r.status()), (0, "serverclose", None));
        let (r, _) = parse(b"4 rsp 20 500 message too long\n").unwrap().unwrap();
        assert_eq!(r.status(), Some(500));
        // Incomplete: wait for more.
        for partial in [&b""[..], b"2", b"2 rsp", b"2 rsp 6", b"2 rsp 6 200 O", b"2 rsp 6 200 OK"] {
            assert_eq!(parse(partial), Ok(None), "{partial:?}");
        }
        // Not RELP.
        for bad in [
            &b"HTTP/1.1 400 Bad Request\r\n"[..],
            b"x rsp 6 200 OK\n",
            b"2 r-p 6 200 OK\n",
            b"2 rsp 6 200 OKX",
            b"2 rsp 9999999999 ",
            b"2 rsp 99999 ",
            b"2 rsp 6\n",
            b"2 rsp  200 OK\n",
            b"2  rsp 6 200 OK\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    /// Random bytes and mangled frames from the network: an error or a wait, never a panic.
    #[test]
    fn garbage_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let good = b"12 rsp 6 200 OK\n";
        for _ in 0..20_000 {
            let mut bytes = good.to_vec();
            for _ in 0..(next() % 4) {
                let i = (next() as usize) % bytes.len();
                bytes[i] = (next() & 0xff) as u8;
            }
            bytes.truncate((next() as usize) % (bytes.len() + 1));
            if let Ok(Some((r, used))) = parse(&bytes) {
                assert!(used <= bytes.len());
                let _ = (r.status(), r.status_text());
            }
            let random: Vec<u8> = (0..(next() % 40)).map(|_| (next() & 0xff) as u8).collect();
            let _ = parse(&random);
        }
    }
}
