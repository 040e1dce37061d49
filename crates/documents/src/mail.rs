//! Reading a submitted mail (issue 15, item 5): what the sender's check and the customer-data
//! search need — the To and Cc headers, the subject, the text, the attachments' names and sizes.
//! MIME and the Japanese encodings (ISO-2022-JP, Shift_JIS, UTF-8; RFC 2047 words) are
//! `mail_parser`'s; nothing here parses by hand.

use mail_parser::{MessageParser, MimeHeaders};

/// Most text kept for the check and the search (the rest is not searched).
pub const MAX_TEXT_CHARS: usize = 1_000_000;

/// A mail as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailContent {
    pub subject: String,
    /// Addresses in From, lower-cased.
    pub from: Vec<String>,
    /// Addresses in To and Cc, lower-cased.
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// The text parts (HTML parts as text when there is no plain one), joined.
    pub text: String,
    /// Each attachment's file name (or `(名前なし)`-free empty string) and size in bytes.
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    pub name: String,
    pub size: usize,
}

/// The message is not a mail that can be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the message could not be read as a mail (RFC 5322 headers and a MIME body)")]
pub struct UnreadableMail;

/// Reads a raw message.
pub fn read_mail(raw: &[u8]) -> Result<MailContent, UnreadableMail> {
    let message = MessageParser::default().parse(raw).ok_or(UnreadableMail)?;
    if message.headers().is_empty() {
        return Err(UnreadableMail);
    }
    let addresses = |a: Option<&mail_parser::Address>| -> Vec<String> {
        a.map(|a| a.iter().filter_map(|x| x.address()).map(str::to_lowercase).collect()).unwrap_or_default()
    };
    let mut text = String::new();
    for i in 0..message.text_body_count().max(message.html_body_count()) {
        if let Some(body) = message.body_text(i) {
            let room = MAX_TEXT_CHARS.saturating_sub(text.chars().count());
            text.extend(body.chars().take(room));
            text.push('\n');
        }
    }
    let attachments = message
        .attachments()
        .map(|part| Attachment {
            name: part.attachment_name().unwrap_or_default().chars().take(200).collect(),
            size: part.len(),
        })
        .collect();
    Ok(MailContent {
        subject: message.subject().unwrap_or_default().chars().take(500).collect(),
        from: addresses(message.from()),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        text,
        attachments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_iso_2022_jp_mail_with_an_attachment() {
        // 「ご注文の件」 and 「山田様の電話は03-1234-5678です」 in ISO-2022-JP.
        let raw = b"From: op@center.example.jp\r\n\
To: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <Yamada@Partner.example.com>\r\n\
Cc: sv@center.example.jp\r\n\
Subject: =?ISO-2022-JP?B?GyRCJDRDbUo4JE43bxsoQg==?=\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=ISO-2022-JP\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n\
\x1b$B;3ED\x1b(B 03-1234-5678\r\n\
--b1\r\n\
Content-Type: text/csv; name=\"list.csv\"\r\n\
Content-Disposition: attachment; filename=\"list.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
bmFtZSxwaG9uZQo=\r\n\
--b1--\r\n";
        let mail = read_mail(raw).unwrap();
        assert_eq!(mail.subject, "ご注文の件");
        assert_eq!(mail.to, vec!["yamada@partner.example.com"]);
        assert_eq!(mail.cc, vec!["sv@center.example.jp"]);
        assert!(mail.text.contains("山田 03-1234-5678"), "{:?}", mail.text);
        assert_eq!(mail.attachments, vec![Attachment { name: "list.csv".into(), size: 11 }]);
    }

    #[test]
    fn garbage_is_not_a_mail() {
        assert_eq!(read_mail(b""), Err(UnreadableMail));
    }

    /// A fuzz-style run of the reader of what the relay receives: random bytes, and a real mail
    /// cut and mangled at random places — an answer or an error, never a panic.
    #[test]
    fn any_bytes_are_read_or_refused() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let real = b"From: a@b.jp\r\nTo: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <x@y.jp>\r\nSubject: =?UTF-8?B?5bGx55Sw?=\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; \
charset=ISO-2022-JP\r\n\r\n\x1b$B;3ED\x1b(B 03-1234-5678\r\n--b\r\nContent-Disposition: attachment; filename=\"a.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nbmFtZQo=\r\n--b--\r\n";
        for round in 0..3000 {
            let bytes: Vec<u8> = if round % 2 == 0 {
                (0..next() % 800).map(|_| (next() & 0xff) as u8).collect()
            } else {
                let mut m = real.to_vec();
                for _ in 0..1 + next() % 8 {
                    let at = (next() as usize) % m.len();
                    match next() % 3 {
                        0 => m[at] = (next() & 0xff) as u8,
                        1 => m.truncate(at.max(1)),
                        _ => m.insert(at, b"\r\n--b\r\n=?"[(next() % 9) as usize]),
                    }
                }
                m
            };
            if let Ok(mail) = read_mail(&bytes) {
                assert!(mail.text.chars().count() <= MAX_TEXT_CHARS + 16);
            }
        }
    }
}
