//! Encodes a struct as TARS, prints the bytes, decodes them back, and shows a decoding error.
//!
//! Run with `cargo run --example codec`.

use std::collections::BTreeMap;

use tars_rpc::packet::RequestPacket;
use tars_rpc::{TarsEnum, TarsStruct};

#[derive(TarsEnum, Debug, Clone, Copy, PartialEq)]
enum Role {
    Guest,
    Member,
    Admin = 10,
}

#[derive(TarsStruct, Debug, PartialEq)]
struct Address {
    #[tars(tag = 0)]
    city: String,
    #[tars(tag = 1, optional)]
    zip: String,
}

#[derive(TarsStruct, Debug, PartialEq)]
struct User {
    #[tars(tag = 0)]
    id: i64,
    #[tars(tag = 1)]
    name: String,
    #[tars(tag = 2)]
    role: Role,
    #[tars(tag = 3, optional)]
    addresses: Vec<Address>,
    #[tars(tag = 4, optional)]
    labels: BTreeMap<String, String>,
    #[tars(tag = 5)]
    nickname: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let user = User {
        id: 10_001,
        name: "ann".into(),
        role: Role::Admin,
        addresses: vec![Address {
            city: "Shenzhen".into(),
            zip: String::new(),
        }],
        labels: BTreeMap::from([("team".to_string(), "infra".to_string())]),
        nickname: None,
    };
    let bytes = user.to_bytes();
    println!("User as TARS ({} bytes): {}", bytes.len(), hex(&bytes));

    let decoded = User::decode_from(&bytes).expect("our own bytes decode");
    assert_eq!(decoded, user);
    println!("decoded back: {decoded:?}");

    // The same struct as the sBuffer of a request, framed for the wire.
    let request = RequestPacket {
        request_id: 1,
        servant_name: "TestApp.UserServer.UserObj".into(),
        func_name: "saveUser".into(),
        buffer: bytes,
        timeout: 3000,
        ..RequestPacket::default()
    };
    println!("request packet: {}", hex(&request.to_bytes()));

    // A required field missing, and a wrong type inside a nested struct.
    println!("error: {}", User::decode_from(&[0x00, 0x01]).unwrap_err());
    let wrong_city = [
        0x00, 0x01, 0x16, 0x01, b'x', 0x2c, 0x39, 0x00, 0x01, 0x0a, 0x00, 0x05, 0x0b,
    ];
    println!("error: {}", User::decode_from(&wrong_city).unwrap_err());
}
