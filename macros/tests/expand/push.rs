// Input of the expansion snapshot `push.expanded.rs`.
#[tars_push]
pub trait Push {
    /// `int pushMsg(out string sRsp);`
    async fn push_msg(&self, ret: i32, s_rsp: String);

    /// A void push with two values.
    async fn notice(&self, topic: String, level: i16);

    /// A push whose callback also reads the push itself (its origin), not on the wire.
    async fn from_instance(&self, ret: i32, push: &PushMessage, count: i64);
}
