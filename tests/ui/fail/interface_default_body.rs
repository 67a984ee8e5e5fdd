#[tars_rpc::tars_interface]
trait Hello {
    async fn test_hello(&self) -> tars_rpc::Result<i32> {
        Ok(0)
    }
}

fn main() {}
