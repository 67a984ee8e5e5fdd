#[tars_rpc::tars_interface]
trait Unknown {
    async fn unknown(&self, #[tars(rename = "x")] a: i32) -> tars_rpc::Result<i32>;
}

#[tars_rpc::tars_interface]
trait Hello {
    async fn context(&self, #[tars(name = "ctx")] current: &tars_rpc::Current) -> tars_rpc::Result<i32>;
    async fn twice(&self, s_req: String, #[tars(name = "sReq")] other: String) -> tars_rpc::Result<()>;
}

#[tars_rpc::tars_push]
trait Push {
    async fn pushed(&self, #[tars(name = "iRet")] ret: i32, value: String);
}

fn main() {}
