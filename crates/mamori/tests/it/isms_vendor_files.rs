//! A vendor's evidence files (issue 17, item 5): attached over the API, sealed like vault
//! records (the raw row holds no plaintext; a blob moved to another row does not open), checked
//! (media type against the content, size, name), listed, downloaded identical and audited per
//! download, readable across a key rotation — against a running server, both databases.

use crate::both_backends;
use crate::support::{Backend, TestServer, principal};
use mamori_domain::isms::vendor::VendorInput;
use mamori_domain::{Permission, Role};
use serde_json::Value;

/// The cryptography evidence, measured now: customers' records and vendors' files under the
/// vault's current key version.
async fn key_evidence(s: &TestServer) -> String {
    let kind = mamori_domain::isms::evidence::EvidenceKind::VaultKeyCurrent;
    s.core.refresh_evidence(&[kind]).await.unwrap()[0].value.clone()
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-a-small-picture-of-the-server-room";

fn pdf() -> Vec<u8> {
    // Over 1 MiB: the route's body limit is raised above the API's default.
    let mut pdf = b"%PDF-1.7\n% NDA signed by Hokkaido Call\n".to_vec();
    while pdf.len() < 1_300_000 {
        pdf.extend_from_slice(b"SECRET-CLAUSE-4711 confidential terms of the outsourcing contract\n");
    }
    pdf.extend_from_slice(b"%%EOF\n");
    pdf
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// The rows of `vendor_files` as stored: (id, wrapped key, sealed content).
async fn raw_rows(s: &TestServer) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    use sqlx::Connection;
    let sql = "SELECT id, wrapped_key, content FROM vendor_files ORDER BY id";
    match &s.config.database_url {
        Some(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
        }
        None => {
            let path = s.config.data_dir.join("mamori.db");
            let mut c =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
        }
    }
}

async fn vendor_files_are_sealed_evidence(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    let auditor_user = s.user("audit", &[Role::Auditor]).await;
    let ctx = Default::default();
    let input = |name: &str| VendorInput {
        name: name.into(),
        parent_id: None,
        client_ids: vec![],
        data_handled: String::new(),
        contact: String::new(),
        review_on: None,
        notes: String::new(),
    };
    let vendor = s.core.isms.create_vendor(&admin, input("北海道コール株式会社"), &ctx).await.unwrap();
    let other = s.core.isms.create_vendor(&admin, input("九州サポート"), &ctx).await.unwrap();
    let token = s.token(admin.user.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    // The auditor's role grants isms.read, not isms.manage.
    let auditor = s.token(auditor_user.clone(), &[Permission::IsmsRead]).await;
    let api = reqwest::Client::new();
    let attach = |vendor: &str, name: &str, media: &str, body: Vec<u8>, as_token: &str| {
        api.post(s.url(&format!("/api/v1/isms/vendors/{vendor}/files")))
            .query(&[("name", name)])
            .header("content-type", media)
            .bearer_auth(as_token)
            .body(body)
            .send()
    };
    let created = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    };

    // Attach a PDF (over 1 MiB) and a PNG.
    let pdf = pdf();
    let nda = created(
        attach(&vendor, "秘密保持契約 2026.pdf", "application/pdf", pdf.clone(), &token).await.unwrap(),
    )
    .await;
    let photo = created(attach(&vendor, "visit.png", "image/png", PNG.to_vec(), &token).await.unwrap()).await;

    // Listed: metadata only, by name, newest first.
    let list: Value = api
        .get(s.url(&format!("/api/v1/isms/vendors/{vendor}/files")))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let names: Vec<&str> = list.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"秘密保持契約 2026.pdf") && names.contains(&"visit.png"));
    let nda_row = list.iter().find(|f| f["id"] == nda.as_str()).unwrap();
    assert_eq!(nda_row["size"], pdf.len());
    assert_eq!(nda_row["media_type"], "application/pdf");
    assert_eq!(nda_row["uploaded_by_name"], admin.user.display_name.as_str());
    assert!(list.iter().all(|f| f.get("content").is_none()));

    // Downloaded by the auditor: the same bytes, as an attachment of its type, not sniffed.
    let download = |vendor: &str, file: &str| {
        api.get(s.url(&format!("/api/v1/isms/vendors/{vendor}/files/{file}"))).bearer_auth(&auditor).send()
    };
    let r = download(&vendor, &nda).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("filename*=UTF-8''"),
        "{disposition}"
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    let r = download(&vendor, &photo).await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), PNG);
    // Each download is audited, with the file and who read it; the name is not in the log.
    let reads = s.audit("vendor.file_read").await;
    assert_eq!(reads.len(), 2);
    assert!(
        reads
            .iter()
            .all(|e| e.actor.starts_with("token:")
                && e.object.as_deref() == Some(&*format!("vendor:{vendor}")))
    );
    assert!(reads.iter().any(|e| e.details["file"] == nda));
    let attaches = s.audit("vendor.file_attach").await;
    assert_eq!(attaches.len(), 2);
    assert!(!serde_json::to_string(&attaches).unwrap().contains("秘密保持契約"));
    // A file of another vendor's path is not found.
    assert_eq!(download(&other, &nda).await.unwrap().status(), 404);

    // The auditor can read but not attach.
    let r = attach(&vendor, "x.png", "image/png", PNG.to_vec(), &auditor).await.unwrap();
    assert_eq!(r.status(), 403);

    // Refused input: the field named, nothing stored.
    let refused = |r: reqwest::Response, status: u16, field: &'static str| async move {
        assert_eq!(r.status(), status);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["field"], field, "{p}");
    };
    refused(attach(&vendor, "fake.pdf", "application/pdf", PNG.to_vec(), &token).await.unwrap(), 422, "file")
        .await;
    refused(attach(&vendor, "empty.pdf", "application/pdf", Vec::new(), &token).await.unwrap(), 422, "file")
        .await;
    refused(
        attach(&vendor, "../../etc/x.pdf", "application/pdf", pdf.clone(), &token).await.unwrap(),
        422,
        "name",
    )
    .await;
    // Over 10 MiB: refused from the declared length (the server may close before the client
    // has sent it all: a client of its own), and as it streams without one.
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(10 * 1024 * 1024 + 1, b'x');
    let url = s.url(&format!("/api/v1/isms/vendors/{vendor}/files?name=big.pdf"));
    let declared = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/pdf")
        .body(big.clone())
        .send()
        .await;
    if let Ok(r) = declared {
        refused(r, 413, "file").await;
    }
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/pdf")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await;
    if let Ok(r) = streamed {
        refused(r, 413, "file").await;
    }
    let file = mamori_core::isms::vendor_files::NewVendorFile {
        name: "big.pdf".into(),
        media_type: "application/pdf".into(),
        content: big,
        note: None,
        visit_id: None,
    };
    let e = s.core.isms.attach_vendor_file(&admin, &vendor, file, &ctx).await.unwrap_err();
    assert_eq!(mamori_server::problem::status_of(&e), 413);
    let r = attach(&vendor, "a.zip", "application/zip", b"PK\x03\x04".to_vec(), &token).await.unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(s.core.isms.vendor_files(&admin, &vendor, &ctx).await.unwrap().len(), 2);

    // The database holds no plaintext: neither content nor a recognisable part of it.
    let rows = raw_rows(&s).await;
    assert_eq!(rows.len(), 2);
    for (_, wrapped, content) in &rows {
        assert!(!contains(content, b"SECRET-CLAUSE-4711") && !contains(content, b"%PDF"));
        assert!(!contains(content, b"IHDR-a-small-picture"));
        assert!(!contains(wrapped, b"%PDF"));
    }

    // Readable across a key rotation (the data keys are re-wrapped with the new version) and
    // after the old version is retired.
    let before = s.core.isms.vendor_files(&admin, &vendor, &ctx).await.unwrap()[0].record.kek_version;
    // The cryptography evidence counts the files with the customers' records (none here).
    assert_eq!(key_evidence(&s).await, "2/2");
    let rotation = s.core.vault.rotate_vault_keys(100, &mut |_, _| {}).await.unwrap();
    assert!(rotation.version > before);
    assert_eq!(rotation.rewrapped, 2);
    let files = s.core.isms.vendor_files(&admin, &vendor, &ctx).await.unwrap();
    assert!(files.iter().all(|f| f.record.kek_version == rotation.version));
    assert_eq!(key_evidence(&s).await, "2/2", "re-wrapped: under the current version again");
    assert!(!s.core.vault.retire_vault_keys().await.unwrap().is_empty());
    assert_eq!(download(&vendor, &nda).await.unwrap().bytes().await.unwrap().to_vec(), pdf);

    // A sealed blob copied to another row does not open: it is bound to its file and vendor.
    let third = created(attach(&other, "other.png", "image/png", PNG.to_vec(), &token).await.unwrap()).await;
    s.tamper(&format!(
        "UPDATE vendor_files SET content = (SELECT content FROM vendor_files WHERE id = '{photo}'), \
         wrapped_key = (SELECT wrapped_key FROM vendor_files WHERE id = '{photo}') WHERE id = '{third}'"
    ))
    .await;
    let moved = s.core.isms.read_vendor_file(&admin, &other, &third, &ctx).await;
    assert!(moved.is_err(), "a blob moved to another row must not open");
    let r = download(&other, &third).await.unwrap();
    assert_ne!(r.status(), 200);
    assert!(!contains(&r.bytes().await.unwrap(), b"IHDR"));
    // Only the content moved (the row keeps its own data key): it does not open either.
    s.tamper(&format!(
        "UPDATE vendor_files SET content = (SELECT content FROM vendor_files WHERE id = '{photo}') \
         WHERE id = '{nda}'"
    ))
    .await;
    assert!(s.core.isms.read_vendor_file(&admin, &vendor, &nda, &ctx).await.is_err());
    // The untouched file still opens.
    assert_eq!(s.core.isms.read_vendor_file(&admin, &vendor, &photo, &ctx).await.unwrap().content, PNG);

    // The console: the vendor's page lists the files with their download links, and the
    // security admin's upload form attaches one (multipart, its CSRF token checked).
    let b = s.signed_in("sec").await;
    let page = b.get(&format!("/isms/vendors/{vendor}")).await.text().await.unwrap();
    assert!(page.contains("visit.png"), "the page lists the files");
    assert!(page.contains(&format!("/api/v1/isms/vendors/{vendor}/files/{photo}")));
    assert!(page.contains("vendor-file-form"));
    let csrf = b.csrf(&format!("/isms/vendors/{vendor}")).await;
    let boundary = "----mamori-vendor-file";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n現地確認の写真\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"room.png\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(PNG);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = b
        .client
        .post(s.url(&format!("/isms/vendors/{vendor}/files")))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = b.get(&format!("/isms/vendors/{vendor}")).await.text().await.unwrap();
    assert!(page.contains("room.png") && page.contains("現地確認の写真"));
    // Without the right token: refused.
    let at = memchr::memmem::find(&body, csrf.as_bytes()).unwrap();
    let mut forged = body[..at].to_vec();
    forged.extend_from_slice(b"forged");
    forged.extend_from_slice(&body[at + csrf.len()..]);
    let r = b
        .client
        .post(s.url(&format!("/isms/vendors/{vendor}/files")))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The auditor's page lists them, without the form.
    let page = s.signed_in("audit").await.get(&format!("/isms/vendors/{vendor}")).await.text().await.unwrap();
    assert!(page.contains("room.png") && !page.contains("vendor-file-form"));
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(vendor_files_are_sealed_evidence);
