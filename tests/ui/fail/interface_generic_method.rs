#[tars_rpc::tars_interface]
trait Hello {
    async fn test_hello<T>(&self, value: T) -> tars_rpc::Result<i32>;
}

fn main() {}
