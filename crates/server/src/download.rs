//! Handing a stored file to a browser: the one rule for its `Content-Disposition`, used by the
//! vendors' evidence files and the one-time mail attachment links.

/// `attachment` with an ASCII fallback name and the real one (RFC 6266, RFC 8187): quotes,
/// backslashes, control characters and anything not ASCII become `_` in the fallback, and the
/// real name is percent-encoded, so no name can break the header.
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn the_file_name_is_given_safely() {
        assert_eq!(
            content_disposition("契約 \"a\".pdf"),
            "attachment; filename=\"__ _a_.pdf\"; filename*=UTF-8''%E5%A5%91%E7%B4%84%20%22a%22.pdf"
        );
        let header = content_disposition("a\r\nb");
        assert!(axum::http::HeaderValue::from_str(&header).is_ok(), "no header injection: {header}");
    }
}
