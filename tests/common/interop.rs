//! The RPC side of the interop IDL (see `tests/node/README.md`): the `Interop` and `Hello`
//! interfaces as Rust traits, and an implementation that behaves as `tests/node/rpc_server.js`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tars_rpc::client::TypedProxy;
use tars_rpc::packet::ReturnCode;
use tars_rpc::{tars_interface, Error, Result};

use super::{AllTypes, Inner};

/// `interface Interop` of the interop IDL.
#[tars_interface]
pub trait Interop {
    /// `int echoAll(AllTypes req, out AllTypes rsp);`: rsp = req, returns 7.
    async fn echo_all(&self, req: AllTypes, rsp: &mut AllTypes) -> Result<i32>;

    /// `int mixed(int a, out string s, string b, out vector<int> v, map<string,int> m, out Inner i);`
    async fn mixed(
        &self,
        a: i32,
        s: &mut String,
        b: String,
        v: &mut Vec<i32>,
        m: BTreeMap<String, i32>,
        i: &mut Inner,
    ) -> Result<i32>;

    /// `void nothing();`
    async fn nothing(&self) -> Result<()>;

    /// `int slow(int ms);`: waits, then returns `ms`.
    async fn slow(&self, ms: i32) -> Result<i32>;

    /// `void note(string msg);`: remembers `msg` (tests call it one-way).
    async fn note(&self, msg: String) -> Result<()>;

    /// `string lastNote();`
    async fn last_note(&self) -> Result<String>;

    /// `int failWith(int code);`: replies with iRet `code` and sResultDesc "failed on purpose".
    async fn fail_with(&self, code: i32) -> Result<i32>;
}

/// `interface Hello { int testHello(string sReq, out string sRsp); }`, TarsCpp's QuickStartDemo.
#[tars_interface]
pub trait Hello {
    /// Returns 0 with `s_rsp` = `s_req`.
    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> Result<i32>;
}

/// The reference behaviour of both interfaces.
#[derive(Default)]
pub struct InteropImp {
    last_note: Mutex<String>,
}

impl Interop for InteropImp {
    async fn echo_all(&self, req: AllTypes, rsp: &mut AllTypes) -> Result<i32> {
        *rsp = req;
        Ok(7)
    }

    async fn mixed(
        &self,
        a: i32,
        s: &mut String,
        b: String,
        v: &mut Vec<i32>,
        m: BTreeMap<String, i32>,
        i: &mut Inner,
    ) -> Result<i32> {
        *s = format!("{b}:{a}");
        *v = vec![a, a + 1, a + 2];
        *i = Inner {
            id: a + m.values().sum::<i32>(),
            name: b,
        };
        Ok(a * 2)
    }

    async fn nothing(&self) -> Result<()> {
        Ok(())
    }

    async fn slow(&self, ms: i32) -> Result<i32> {
        tokio::time::sleep(Duration::from_millis(u64::try_from(ms).unwrap_or(0))).await;
        Ok(ms)
    }

    async fn note(&self, msg: String) -> Result<()> {
        *self.last_note.lock().unwrap() = msg;
        Ok(())
    }

    async fn last_note(&self) -> Result<String> {
        Ok(self.last_note.lock().unwrap().clone())
    }

    async fn fail_with(&self, code: i32) -> Result<i32> {
        Err(Error::new(ReturnCode(code), "failed on purpose"))
    }
}

impl Hello for InteropImp {
    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> Result<i32> {
        *s_rsp = s_req;
        Ok(0)
    }
}

/// The calls every interop peer must answer alike: `testHello`, `echoAll` with every codec type,
/// `mixed` in/out parameters, and the void `nothing`.
pub async fn check_round_trips(hello: &HelloProxy, interop: &InteropProxy) {
    let wait = Duration::from_secs(5);
    let (ret, s_rsp) = tokio::time::timeout(wait, hello.test_hello("hello".into()))
        .await
        .expect("testHello in time")
        .expect("testHello");
    assert_eq!((ret, s_rsp.as_str()), (0, "hello"));

    let (ret, echoed) = tokio::time::timeout(wait, interop.echo_all(super::canonical()))
        .await
        .expect("echoAll in time")
        .expect("echoAll");
    assert_eq!(ret, 7);
    assert_eq!(echoed, super::canonical());

    let scores = BTreeMap::from([("x".to_string(), 1), ("y".to_string(), 2)]);
    let (ret, s, v, i) = tokio::time::timeout(wait, interop.mixed(5, "b".into(), scores))
        .await
        .expect("mixed in time")
        .expect("mixed");
    assert_eq!((ret, s.as_str(), v), (10, "b:5", vec![5, 6, 7]));
    assert_eq!(
        i,
        Inner {
            id: 8,
            name: "b".into()
        }
    );

    tokio::time::timeout(wait, interop.nothing())
        .await
        .expect("nothing in time")
        .expect("nothing");
}

/// A one-way call is run though nothing comes back, and a slow reply times out with -7 while
/// the proxy stays usable.
pub async fn check_oneway_and_timeout(interop: &InteropProxy) {
    let wait = Duration::from_secs(5);
    // a different note first, so that a one-way call that never ran cannot pass
    tokio::time::timeout(wait, interop.note("before".into()))
        .await
        .expect("note in time")
        .expect("note");
    tokio::time::timeout(wait, interop.note_oneway("one-way note".into()))
        .await
        .expect("one-way send in time")
        .expect("one-way send");
    // the one-way request may be handled a moment after the next call: poll, boundedly
    let mut seen = String::new();
    for _ in 0..100 {
        seen = tokio::time::timeout(wait, interop.last_note())
            .await
            .expect("lastNote in time")
            .expect("lastNote");
        if seen == "one-way note" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, "one-way note");

    let error = tokio::time::timeout(
        wait,
        interop.with_timeout(Duration::from_millis(300)).slow(2000),
    )
    .await
    .expect("the timeout in time")
    .expect_err("a 2 s reply cannot beat a 300 ms timeout");
    assert!(error.is_timeout(), "{error}");
    let ms = tokio::time::timeout(wait, interop.slow(1))
        .await
        .expect("slow in time")
        .expect("slow");
    assert_eq!(ms, 1);
}
