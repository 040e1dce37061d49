//! Attachments that leave as one-time download links (issue 15, item 5): with the outgoing-mail
//! rules' `attachment_links` on, a mail to external recipients is rewritten as it is released —
//! its attachments are taken out and kept sealed, and the mail gains a text part (Japanese, then
//! English) with a link to each file and when the links expire. No password-protected ZIP with
//! its password in a second mail (PPAP): the recipient downloads each file from Mamori, once
//! per external recipient, until the links expire.
//!
//! A link's token is 256 random bits, only in the mail; the database keeps its SHA-256. Opening
//! the link (GET) shows the file and never takes a download — mail security gateways fetch the
//! links of the mail they pass — only the page's button (POST) does, by a conditional update, so
//! two downloads of the last one left cannot both have it, whichever replica serves them.

use crate::{Core, CoreError, jst, new_id};
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::UnixMillis;
use mamori_domain::mail::{MailPolicy, Recipient};
use mamori_store::{MailFileLink, OutgoingMail};

/// A file taken out of a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachedFile {
    /// Its file name as the sender gave it (decoded), else `attachment-<n>`.
    pub name: String,
    /// Its type as the sender's mail program said (`application/pdf`), else
    /// `application/octet-stream`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A message without its attachments, and the files taken out of it.
#[derive(Debug)]
pub struct Rewritten {
    pub message: Vec<u8>,
    pub files: Vec<DetachedFile>,
}

/// Takes the attachments out of a raw message; `links` words the text part that replaces them,
/// given the files. The original headers are kept as written (Subject, From, To, Cc, Date,
/// Message-ID, …: encoded words and all), except the MIME ones the new body brings; the text
/// and HTML parts are kept byte for byte (their charset and encoding with them). A message
/// without a Date gets `now` (seconds). `None` when the message has no attachment (or cannot be
/// read).
pub fn detach_attachments(
    raw: &[u8],
    now: i64,
    links: impl FnOnce(&[DetachedFile]) -> String,
) -> Option<Rewritten> {
    let message = MessageParser::default().parse(raw)?;
    if message.attachments.is_empty() || message.parts.is_empty() {
        return None;
    }
    let mut files = Vec::new();
    let kept = keep(&message, 0, &mut files, true);
    if files.is_empty() {
        return None;
    }
    let text = links(&files);
    let links_part = MimePart::new(ContentType::new("text/plain"), BodyPart::Text(text.into()));
    let body = match kept {
        Some(mut mixed) if is_mixed(&message, 0) => {
            mixed.add_part(links_part);
            mixed
        }
        Some(other) => {
            MimePart::new(ContentType::new("multipart/mixed"), BodyPart::Multipart(vec![other, links_part]))
        }
        None => links_part,
    };
    let mut builder = MessageBuilder::new();
    for header in message.headers() {
        let name = header.name.as_str();
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("content-") || lower == "mime-version" {
            continue;
        }
        let value = raw.get(header.offset_start as usize..header.offset_end as usize).unwrap_or_default();
        // Unfolded: the builder folds again. Raw bytes: encoded words stay as the sender wrote them.
        let value = String::from_utf8_lossy(value).replace("\r\n", "").replace('\n', "");
        builder = builder.header(name.to_owned(), Raw::new(value.trim().to_owned()));
    }
    if message.date().is_none() {
        // The builder would take the system's clock; Mamori's is injected.
        builder = builder.date(mail_builder::headers::date::Date::new(now));
    }
    let message = builder.body(body).write_to_vec().ok()?;
    Some(Rewritten { message, files })
}

fn is_mixed(message: &mail_parser::Message<'_>, index: usize) -> bool {
    message.parts.get(index).and_then(|p| p.content_type()).is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("mixed"))
    })
}

/// The part at `index` without its attachments (collected into `files`), or `None` when nothing
/// of it is left. A kept leaf is its original bytes, headers and body; the root's headers are
/// the message's, so a root leaf that is not an attachment is rebuilt by the caller.
fn keep<'x>(
    message: &'x mail_parser::Message<'x>,
    index: usize,
    files: &mut Vec<DetachedFile>,
    root: bool,
) -> Option<MimePart<'x>> {
    let part = message.parts.get(index)?;
    let is_attachment = message.attachments.iter().any(|a| *a as usize == index);
    if is_attachment {
        let name = part
            .attachment_name()
            .map(|n| n.chars().filter(|c| !c.is_control()).take(200).collect::<String>())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("attachment-{}", files.len() + 1));
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            })
            .map(|t| t.to_ascii_lowercase())
            .unwrap_or_else(|| "application/octet-stream".into());
        let bytes = match &part.body {
            PartType::Message(_) => message
                .raw_message
                .get(part.offset_body as usize..part.offset_end as usize)
                .unwrap_or_default()
                .to_vec(),
            _ => part.contents().to_vec(),
        };
        files.push(DetachedFile { name, content_type, bytes });
        return None;
    }
    match &part.body {
        PartType::Multipart(children) => {
            let kept: Vec<MimePart<'x>> =
                children.iter().filter_map(|c| keep(message, *c as usize, files, false)).collect();
            if kept.is_empty() {
                return None;
            }
            let subtype =
                part.content_type().and_then(|ct| ct.subtype()).unwrap_or("mixed").to_ascii_lowercase();
            Some(MimePart::new(ContentType::new(format!("multipart/{subtype}")), BodyPart::Multipart(kept)))
        }
        _ if root => {
            // The whole message is one text part: nothing to take out (the caller never gets here
            // for such a message, which has no attachment), kept as its decoded text.
            let text = message.body_text(0).unwrap_or_default().into_owned();
            Some(MimePart::new(ContentType::new("text/plain"), BodyPart::Text(text.into())))
        }
        _ => {
            let bytes = message.raw_message.get(part.offset_header as usize..part.offset_end as usize)?;
            Some(MimePart::raw(BodyPart::Binary(bytes.into())))
        }
    }
}

/// `12 KB`, `1.5 MB`.
fn size_text(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{} KB", b.div_ceil(1 << 10)),
        b => format!("{b} B"),
    }
}

/// The text part that replaces the attachments: each file, its size and its link; until when,
/// and how many downloads — in Japanese, then in English.
fn links_text(files: &[(&DetachedFile, String)], expires: UnixMillis, downloads: i64) -> String {
    let until = jst::format_minute(expires);
    let mut ja = format!(
        "添付ファイルは、下記のダウンロード用リンクに置き換えて送信しました。\n\
         各リンクは {until} まで、{downloads} 回ダウンロードできます。期限が過ぎた場合や\n\
         ダウンロードできない場合は、送信者に再送を依頼してください。\n\n"
    );
    let mut en = format!(
        "The attachments of this mail were replaced by the download links below.\n\
         Each link works until {until}, for {downloads} download(s). If a link has expired or\n\
         does not work, ask the sender to send the file again.\n\n"
    );
    for (file, url) in files {
        let size = size_text(file.bytes.len());
        ja.push_str(&format!("・{}（{size}）\n  {url}\n", file.name));
        en.push_str(&format!("- {} ({size})\n  {url}\n", file.name));
    }
    format!("{ja}\n----\n\n{en}")
}

/// A file a link offers, as its page shows it.
#[derive(Debug, Clone)]
pub struct MailFileView {
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub expires_at: UnixMillis,
    pub downloads_left: i64,
}

/// A file downloaded through its link.
#[derive(Debug, Clone)]
pub struct MailFileDownload {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The sealing context of a link's file.
fn file_context(link_id: &str) -> String {
    format!("mail-file:{link_id}")
}

/// Tokens are 32 random bytes, URL-safe base64 without padding (43 characters); anything else
/// cannot be one, and is refused before any lookup.
fn token_shape(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Core {
    /// At a mail's release, in the release's transaction: with the rules' `attachment_links`
    /// on, its attachments become links — kept sealed, the message replaced by one without
    /// them and with the links. Returns how many files became links (0: sent as written).
    pub(crate) async fn attachments_to_links_in(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        mail: &OutgoingMail,
        policy: &MailPolicy,
    ) -> Result<usize, CoreError> {
        let findings: mamori_domain::mail::Findings =
            serde_json::from_str(&mail.findings).unwrap_or_default();
        if !policy.attachment_links || findings.attachments == 0 {
            return Ok(0);
        }
        let recipients: Vec<Recipient> = serde_json::from_str(&mail.recipients).unwrap_or_default();
        // One download for each external recipient: each may fetch the file once; a link passed
        // on further finds nothing left.
        let downloads = i64::try_from(recipients.iter().filter(|r| r.external).count()).unwrap_or(1).max(1);
        let sealed = tx.outgoing_mail_message(&mail.id).await?.ok_or(CoreError::NotFound { what: "mail" })?;
        let context = format!("mail:{}:message", mail.id);
        let message = self.mail_box.open(&sealed, &context)?;
        let now = self.now();
        let expires = now.plus(std::time::Duration::from_secs(u64::from(policy.link_hours) * 3600));
        let public_url = self.base.policies.public_url.trim_end_matches('/').to_owned();
        let mut tokens: Vec<String> = Vec::new();
        let mut token_error = None;
        let rewritten = detach_attachments(&message, now.0.div_euclid(1000), |files| {
            let mut listed = Vec::with_capacity(files.len());
            for file in files {
                match mamori_crypto::tokens::new_secret() {
                    Ok(token) => {
                        listed.push((file, format!("{public_url}/mail-files/{token}")));
                        tokens.push(token);
                    }
                    Err(e) => token_error = Some(e),
                }
            }
            links_text(&listed, expires, downloads)
        });
        if let Some(e) = token_error {
            return Err(e.into());
        }
        let Some(rewritten) = rewritten else {
            // Findings counted an attachment the rewrite does not see: the mail must not leave
            // with a file the rules say goes as a link.
            return Err(CoreError::Internal("a mail's attachments could not be taken out".into()));
        };
        for (file, token) in rewritten.files.iter().zip(&tokens) {
            let id = new_id();
            let link = MailFileLink {
                sealed: self.mail_box.seal(&file.bytes, &file_context(&id))?,
                id,
                mail_id: mail.id.clone(),
                token_digest: mamori_crypto::tokens::digest(token),
                name: file.name.clone(),
                content_type: file.content_type.clone(),
                size: i64::try_from(file.bytes.len()).unwrap_or(i64::MAX),
                expires_at: expires,
                downloads_left: downloads,
                created_at: now,
            };
            tx.insert_mail_file_link(&link).await?;
        }
        tx.replace_outgoing_mail_message(&mail.id, &self.mail_box.seal(&rewritten.message, &context)?)
            .await?;
        Ok(rewritten.files.len())
    }

    /// Forgets the files of links that can no longer be downloaded — expired or used up: a file
    /// that cannot leave again is not kept (run now and then by the server). Their rows stay,
    /// so a late click is refused like any other.
    pub async fn forget_mail_files(&self) -> Result<u64, CoreError> {
        let mut tx = self.base.store.begin().await?;
        let forgotten = tx.forget_mail_files(self.now()).await?;
        tx.commit().await?;
        Ok(forgotten)
    }

    /// The link's file, if it can still be downloaded, for its page. Looking never takes a
    /// download (mail gateways open links). A refusal is recorded and says nothing of why.
    pub async fn mail_file(&self, token: &str, ctx: &RequestContext) -> Result<MailFileView, CoreError> {
        let link = self.usable_mail_file(token, "view", ctx).await?;
        Ok(MailFileView {
            name: link.name,
            content_type: link.content_type,
            size: link.size,
            expires_at: link.expires_at,
            downloads_left: link.downloads_left,
        })
    }

    /// Downloads a link's file: takes one of its downloads, recorded, in one transaction
    /// committed before the file is handed out.
    pub async fn download_mail_file(
        &self,
        token: &str,
        ctx: &RequestContext,
    ) -> Result<MailFileDownload, CoreError> {
        let link = self.usable_mail_file(token, "download", ctx).await?;
        let bytes = self.mail_box.open(&link.sealed, &file_context(&link.id))?.to_vec();
        let mut tx = self.base.store.begin().await?;
        if !tx.take_mail_file_download(&link.id, self.now()).await? {
            drop(tx);
            return Err(self.mail_file_refused(Some(&link), "used_up", "download", ctx).await);
        }
        let e = AuditEvent::of(&actions::MAIL_FILE_DOWNLOAD, Actor::Anonymous, Outcome::Success)
            .object(format!("mail:{}", link.mail_id))
            .detail("link", link.id.clone())
            .detail("bytes", link.size.to_string())
            .detail("downloads_left", (link.downloads_left - 1).to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(MailFileDownload { name: link.name, content_type: link.content_type, bytes })
    }

    async fn usable_mail_file(
        &self,
        token: &str,
        step: &str,
        ctx: &RequestContext,
    ) -> Result<MailFileLink, CoreError> {
        if !token_shape(token) {
            return Err(self.mail_file_refused(None, "unknown", step, ctx).await);
        }
        let digest = mamori_crypto::tokens::digest(token);
        let link = self.base.store.read().await?.mail_file_link(&digest).await?;
        let Some(link) = link else {
            return Err(self.mail_file_refused(None, "unknown", step, ctx).await);
        };
        if link.expires_at <= self.now() {
            return Err(self.mail_file_refused(Some(&link), "expired", step, ctx).await);
        }
        if link.downloads_left <= 0 {
            return Err(self.mail_file_refused(Some(&link), "used_up", step, ctx).await);
        }
        Ok(link)
    }

    /// Records a refused link and answers the same for every reason: the caller learns nothing
    /// of whether a token ever existed.
    async fn mail_file_refused(
        &self,
        link: Option<&MailFileLink>,
        reason: &'static str,
        step: &str,
        ctx: &RequestContext,
    ) -> CoreError {
        let mut e = AuditEvent::of(&actions::MAIL_FILE_DOWNLOAD, Actor::Anonymous, Outcome::Denied)
            .detail("reason", reason)
            .detail("step", step.to_owned());
        if let Some(link) = link {
            e = e.object(format!("mail:{}", link.mail_id)).detail("link", link.id.clone());
        }
        self.base.record_denied(ctx, e).await;
        CoreError::NotFound { what: "mail file" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 「ご注文の件」 and 「山田様」 in ISO-2022-JP, with a CSV and a PDF attached.
    const ISO_2022_JP: &[u8] = b"From: op@center.example.jp\r\n\
To: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@partner.example.com>\r\n\
Cc: sv@center.example.jp\r\n\
Subject: =?ISO-2022-JP?B?GyRCJDRDbUo4JE43bxsoQg==?=\r\n\
Date: Sun, 29 Nov 2026 10:00:00 +0900\r\n\
Message-ID: <abc@center.example.jp>\r\n\
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
--b1\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename*=UTF-8''%E8%A6%8B%E7%A9%8D.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--b1--\r\n";

    fn rewrite(raw: &[u8]) -> Rewritten {
        detach_attachments(raw, 0, |files| {
            files.iter().map(|f| format!("LINK {} {}\n", f.name, f.bytes.len())).collect()
        })
        .expect("has attachments")
    }

    #[test]
    fn attachments_are_taken_out_and_the_rest_kept() {
        let out = rewrite(ISO_2022_JP);
        assert_eq!(
            out.files,
            vec![
                DetachedFile {
                    name: "list.csv".into(),
                    content_type: "text/csv".into(),
                    bytes: b"name,phone\n".to_vec()
                },
                DetachedFile {
                    name: "見積.pdf".into(),
                    content_type: "application/pdf".into(),
                    bytes: b"%PDF-1.4\n".to_vec()
                },
            ]
        );
        let parsed = MessageParser::default().parse(&out.message).unwrap();
        assert_eq!(parsed.subject(), Some("ご注文の件"));
        assert_eq!(parsed.attachments().count(), 0, "no attachment left");
        assert_eq!(parsed.message_id(), Some("abc@center.example.jp"));
        assert_eq!(parsed.date().map(|d| d.to_rfc3339()).as_deref(), Some("2026-11-29T10:00:00+09:00"));
        let to = parsed.to().unwrap().first().unwrap();
        assert_eq!(to.address(), Some("yamada@partner.example.com"));
        assert_eq!(to.name(), Some("山田"));
        assert_eq!(parsed.cc().unwrap().first().unwrap().address(), Some("sv@center.example.jp"));
        let texts: Vec<String> = (0..parsed.text_body_count())
            .filter_map(|i| parsed.body_text(i))
            .map(|t| t.into_owned())
            .collect();
        let all = texts.join("\n");
        assert!(all.contains("山田 03-1234-5678"), "the ISO-2022-JP text is kept: {all:?}");
        assert!(all.contains("LINK list.csv 11") && all.contains("LINK 見積.pdf 9"), "{all:?}");
        let raw = String::from_utf8_lossy(&out.message);
        assert!(
            raw.contains("Subject: =?ISO-2022-JP?B?GyRCJDRDbUo4JE43bxsoQg==?="),
            "the header as written: {raw}"
        );
        assert!(raw.contains("charset=ISO-2022-JP"), "the text part byte for byte: {raw}");
        assert_eq!(raw.matches("MIME-Version").count(), 1);
        assert!(!raw.contains("bmFtZSxwaG9uZQo="), "the file's bytes are gone");
    }

    #[test]
    fn an_html_mail_keeps_both_bodies() {
        let raw = b"From: a@center.example.jp\r\nTo: b@partner.example.com\r\nSubject: =?UTF-8?B?44GU5rOo5paH?=\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\n\
Content-Type: multipart/alternative; boundary=\"i\"\r\n\r\n--i\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
plain words\r\n--i\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<p>html words</p>\r\n--i--\r\n--o\r\n\
Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--o--\r\n";
        let out = rewrite(raw);
        assert_eq!(out.files.len(), 1);
        assert_eq!(out.files[0].bytes, vec![0, 1, 2]);
        let parsed = MessageParser::default().parse(&out.message).unwrap();
        assert_eq!(parsed.subject(), Some("ご注文"));
        assert!(parsed.body_html(0).unwrap().contains("html words"));
        assert!(parsed.body_text(0).unwrap().contains("plain words"));
        assert_eq!(parsed.date().map(|d| d.to_timestamp()), Some(0), "a Date from Mamori's clock");
        assert!(parsed.message_id().is_some(), "and a Message-ID");
    }

    #[test]
    fn a_mail_without_attachments_is_left_alone() {
        let raw = b"From: a@b.jp\r\nTo: c@d.jp\r\nSubject: x\r\n\r\nhello\r\n";
        assert!(detach_attachments(raw, 0, |_| String::new()).is_none());
        assert!(detach_attachments(b"", 0, |_| String::new()).is_none());
    }

    #[test]
    fn the_links_text_says_it_in_japanese_then_english() {
        let file = DetachedFile {
            name: "見積.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: vec![0; 2048],
        };
        let text = links_text(&[(&file, "https://m.example.jp/mail-files/t".into())], UnixMillis(0), 2);
        let (ja, en) = text.split_once("----").unwrap();
        assert!(
            ja.contains("1970-01-01 09:00 JST") && ja.contains("見積.pdf（2 KB）") && ja.contains("2 回")
        );
        assert!(en.contains("until 1970-01-01 09:00 JST") && en.contains("- 見積.pdf (2 KB)"));
        assert!(en.contains("https://m.example.jp/mail-files/t"));
    }

    #[test]
    fn only_a_token_shaped_string_is_looked_up() {
        let token = mamori_crypto::tokens::new_secret().unwrap();
        assert!(token_shape(&token));
        assert!(!token_shape("short"));
        assert!(!token_shape(&format!("{}%", &token[..42])));
        assert!(!token_shape(&"あ".repeat(15)));
    }
}
