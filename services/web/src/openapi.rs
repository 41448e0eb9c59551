//! The OpenAPI 3.0 document of `/api`, written from the route table and the
//! Rust types the routes answer with (schemars), so it cannot drift from
//! the code.

use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::error::ApiErrorBody;
use crate::routes::{Access, Kind, ROUTES};

/// The document served at `/api/openapi.json`.
pub fn document() -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let error = generator.subschema_for::<ApiErrorBody>();
    let error_response = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": error.clone()}}
        })
    };
    let mut paths = Map::new();
    for route in ROUTES.iter().filter(|r| r.kind == Kind::Api) {
        let mut responses = Map::new();
        let ok = match route.response {
            Some(schema) => json!({
                "description": "OK",
                "content": {"application/json": {"schema": schema(&mut generator)}}
            }),
            None => json!({"description": "OK", "content": {"application/json": {}}}),
        };
        responses.insert("200".into(), ok);
        let mut parameters = Vec::new();
        for p in route.params {
            let mut schema = json!({"type": p.ty});
            if !p.values.is_empty() {
                schema["enum"] = json!(p.values);
            }
            if p.ty == "integer" {
                let maximum = if p.name == "per_page" {
                    i64::from(moocpipe_catalog::Page::MAX_PER_PAGE)
                } else {
                    i64::from(u32::MAX)
                };
                schema = json!({"type": "integer", "minimum": 1, "maximum": maximum});
            }
            parameters.push(json!({
                "name": p.name,
                "in": if p.in_path { "path" } else { "query" },
                "required": p.in_path,
                "description": p.description,
                "schema": schema,
            }));
        }
        if !route.params.is_empty() {
            responses.insert("400".into(), error_response("A parameter is not valid"));
        }
        if route.params.iter().any(|p| p.in_path) {
            responses.insert("404".into(), error_response("No such item"));
        }
        let mut operation = json!({
            "summary": route.summary,
            "operationId": operation_id(route.method, route.path),
            "parameters": parameters,
        });
        if let Some(body) = route.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": body(&mut generator)}}
            });
            responses.insert("400".into(), error_response("The body is not valid"));
        }
        match route.access {
            Access::Role(_) | Access::Roles(_) => {
                operation["security"] = json!([{"session": []}]);
                operation["description"] = json!(format!("Needs {}.", route.access.needs()));
                responses.insert("401".into(), error_response("No session: log in"));
                responses.insert("403".into(), error_response("The session's role may not"));
            }
            Access::Public => {
                operation["security"] = json!([]);
                if route.body.is_some() {
                    responses.insert("401".into(), error_response("Wrong name or password"));
                    responses.insert("429".into(), error_response("Too many failed logins"));
                }
            }
        }
        if route.path.starts_with("/api/v1/dead-letters") {
            responses.insert(
                "404".into(),
                error_response("This server has no dead-letter queues (embedded mode)"),
            );
            responses.insert("503".into(), error_response("The broker is not reachable"));
        }
        if route.path.starts_with("/api/v1/uploads") {
            responses.insert(
                "404".into(),
                error_response("This server has no upload path (embedded mode), or no such upload"),
            );
            responses.insert(
                "422".into(),
                error_response(
                    "Against a rule: the course layout, a sidecar field, the size, a take's key",
                ),
            );
            if route.method == "POST" {
                responses.insert(
                    "409".into(),
                    error_response(
                        "A take of that name exists, or the upload's parts are not all there",
                    ),
                );
            }
            responses.insert(
                "503".into(),
                error_response("The raw bucket is not reachable or refuses the server's key"),
            );
        }
        operation["responses"] = Value::Object(responses);
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method.to_lowercase()] = operation;
    }
    let schemas = generator.take_definitions(true);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "moocpipe",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The CAIDD dashboard's data: courses, takes, their records and jobs. \
                Log in with POST /api/v1/session; send the answer's csrf_token in \
                x-csrf-token on every POST."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": crate::SESSION_COOKIE}
            }
        }
    })
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_lowercase();
    for part in path.trim_start_matches("/api/").split('/') {
        let part = part.trim_start_matches('{').trim_end_matches('}');
        id.push('_');
        id.push_str(&part.replace(['-', '.'], "_"));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_route_is_in_the_document_with_its_schema() {
        let doc = document();
        for route in ROUTES.iter().filter(|r| r.kind == Kind::Api) {
            let op = &doc["paths"][route.path][route.method.to_lowercase()];
            assert!(op.is_object(), "{} {} missing", route.method, route.path);
            if route.response.is_some() {
                assert!(
                    op["responses"]["200"]["content"]["application/json"]["schema"].is_object(),
                    "{} {}",
                    route.method,
                    route.path
                );
            }
        }
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for name in [
            "Overview",
            "TakeView",
            "CourseView",
            "ProbeRecord",
            "ApiErrorBody",
        ] {
            assert!(
                schemas.contains_key(name),
                "{name} not in {:?}",
                schemas.keys()
            );
        }
        let states = &doc["paths"]["/api/v1/takes"]["get"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "state"))
            .expect("state parameter")["schema"]["enum"];
        let all: Vec<&str> = moocpipe_catalog::state::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(states, &json!(all), "the state filter lists every state");
        let text = doc.to_string();
        assert!(
            !text.contains("#/$defs"),
            "every reference points into components"
        );
    }
}
