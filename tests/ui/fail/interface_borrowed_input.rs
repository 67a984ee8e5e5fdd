#[tars_rpc::tars_interface]
trait Hello {
    async fn test_hello(&self, s_req: &str) -> tars_rpc::Result<i32>;
}

fn main() {}
