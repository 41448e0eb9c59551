//! The committed JSON Schemas must match the types. Run with
//! `UPDATE_SCHEMAS=1 cargo test -p moocpipe-proto` after changing a type.

use std::path::PathBuf;

#[test]
fn committed_schemas_match_the_types() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    for (name, generated) in moocpipe_proto::schema::all() {
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &generated).expect("write schema");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{} is missing ({e}); run with UPDATE_SCHEMAS=1",
                path.display()
            )
        });
        assert_eq!(
            committed, generated,
            "{name} differs from the type; run `UPDATE_SCHEMAS=1 cargo test -p moocpipe-proto` and commit it"
        );
    }
}

#[test]
fn rule_ids_serialise_as_in_the_regulation() {
    let all = moocpipe_proto::RuleId::RAW_SPEC
        .into_iter()
        .chain(moocpipe_proto::RuleId::RENDITION)
        .chain(moocpipe_proto::RuleId::COURSE);
    for id in all {
        let json = serde_json::to_string(&id).expect("serialise");
        assert_eq!(json, format!("\"{}\"", id.as_str()));
        let back: moocpipe_proto::RuleId = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, id);
    }
}
