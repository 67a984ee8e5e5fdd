// Input of the expansion snapshot `hello.expanded.rs` (see `expansion_snapshots` in src/lib.rs).
#[tars_interface]
pub trait Hello {
    /// Echoes `s_req` into `s_rsp`.
    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> tars_rpc::Result<i32>;

    #[tars(name = "registerPush")]
    async fn register(&self, current: &Current) -> tars_rpc::Result<i32>;

    async fn notify(&self, topic: String, #[tars(name = "vData")] payload: Vec<u8>) -> tars_rpc::Result<()>;

    async fn stats(&self, total: &mut i64, names: &mut Vec<String>) -> tars_rpc::Result<()>;

    #[tars(on_close)]
    async fn closed(&self, current: &Current);
}
