//! The plain HTTP side of the port: the page, its script, and sign-in.

use rfc6455::handshake::{HttpRequest, Reject, plain_response};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::Server;
use crate::hub::valid_name;

const PAGE: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("chat.js");

/// Longest login body.
const MAX_BODY: usize = 1024;

/// Answers a plain HTTP request: the page, the script, or a login. The body
/// of a `POST` is read here (its first bytes may be in `leftover`).
pub async fn answer(
    server: &Server,
    stream: &mut TcpStream,
    request: &HttpRequest,
    leftover: &[u8],
) -> Vec<u8> {
    let answer = match (request.method(), request.path()) {
        ("GET", "/") => plain_response(200, "text/html; charset=utf-8", PAGE.as_bytes()),
        ("GET", "/chat.js") => plain_response(200, "text/javascript", SCRIPT.as_bytes()),
        ("GET", "/login") => {
            let name = request.query_param("name").unwrap_or_default();
            return login(server, &name).await;
        }
        ("POST", "/login") => {
            return match read_body(stream, request, leftover).await {
                Ok(body) => login(server, &form_field(&body, "name").unwrap_or_default()).await,
                Err(status) => json_response(status, &json!({"error": "bad body"})),
            };
        }
        _ => plain_response(404, "text/plain", b"not found\n"),
    };
    answer.unwrap_or_default()
}

/// Answers a sign-in. A name online here, or with `--redis` on any
/// server, is refused with 409; with Redis away, every sign-in with 503.
async fn login(server: &Server, name: &str) -> Vec<u8> {
    if !valid_name(name, 20) {
        let error = "a name is 1 to 20 letters, digits, _ or -";
        return json_response(400, &json!({ "error": error }));
    }
    let taken = server.hub().id_of(name).is_some();
    let taken = match &server.cluster {
        Some(cluster) if !taken => match cluster.is_online(name).await {
            Ok(taken) => taken,
            Err(_) => return json_response(503, &json!({"error": "Redis unavailable: try again"})),
        },
        _ => taken,
    };
    if taken {
        return json_response(409, &json!({"error": format!("{name} is online already")}));
    }
    let token = server.signer.token(name);
    json_response(200, &json!({ "name": name, "token": token }))
}

fn json_response(status: u16, body: &Value) -> Vec<u8> {
    Reject::new(status)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-store")
        .body(body.to_string())
        .into_bytes()
        .unwrap_or_default()
}

/// Reads a request body of `Content-Length` bytes (at most [`MAX_BODY`]); the
/// handshake does not read bodies, but keeps their first bytes as leftover.
async fn read_body(
    stream: &mut TcpStream,
    request: &HttpRequest,
    leftover: &[u8],
) -> Result<Vec<u8>, u16> {
    let length: usize = match request.header("Content-Length") {
        Some(value) => value.trim().parse().map_err(|_| 400u16)?,
        None => return Err(411),
    };
    if length > MAX_BODY {
        return Err(413);
    }
    let mut body = leftover[..leftover.len().min(length)].to_vec();
    let start = body.len();
    body.resize(length, 0);
    stream
        .read_exact(&mut body[start..])
        .await
        .map_err(|_| 400u16)?;
    Ok(body)
}

/// The value of `name` in an `application/x-www-form-urlencoded` body. Only
/// what a valid name needs is decoded: anything escaped is refused later.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}
