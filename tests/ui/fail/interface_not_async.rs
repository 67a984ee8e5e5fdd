#[tars_rpc::tars_interface]
trait Hello {
    fn test_hello(&self, s_req: String) -> tars_rpc::Result<i32>;
}

fn main() {}
