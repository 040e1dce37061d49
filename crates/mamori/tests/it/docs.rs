//! The reference tables in `docs/` are generated from the code they describe; this keeps them
//! equal. After changing a role, permission, route, configuration key, audit action or error
//! code, run `MAMORI_UPDATE_DOCS=1 cargo test -p mamori --test it docs` and commit the result.

use std::path::PathBuf;

/// Checks (or, with `MAMORI_UPDATE_DOCS=1`, rewrites) the block between
/// `<!-- generated:NAME -->` and `<!-- end:NAME -->` in a file under `docs/`.
fn generated_block(file: &str, name: &str, expected: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (start, end) = (format!("<!-- generated:{name} -->\n"), format!("<!-- end:{name} -->"));
    let from = text.find(&start).unwrap_or_else(|| panic!("{file} lacks {start}")) + start.len();
    let to = from + text[from..].find(&end).unwrap_or_else(|| panic!("{file} lacks {end}"));
    if std::env::var_os("MAMORI_UPDATE_DOCS").is_some() {
        std::fs::write(&path, format!("{}{expected}{}", &text[..from], &text[to..])).unwrap();
    } else {
        assert_eq!(
            &text[from..to],
            expected,
            "docs/{file} `{name}` is out of date: run MAMORI_UPDATE_DOCS=1 cargo test -p mamori --test it docs"
        );
    }
}

#[test]
fn role_permission_matrix() {
    generated_block("authorization.md", "matrix", &mamori_domain::authz::matrix_markdown());
}

#[test]
fn route_table() {
    let table = mamori_server::routes::all_routes().into_parts().1;
    generated_block("authorization.md", "routes", &table.markdown());
}

#[test]
fn configuration_keys() {
    generated_block("configuration.md", "keys", &mamori_server::config::keys_markdown());
}

#[test]
fn audit_actions() {
    generated_block("audit-log.md", "actions", &mamori_audit::actions::markdown());
}

#[test]
fn error_codes() {
    generated_block("api.md", "errors", &mamori_server::problem::codes_markdown());
}
