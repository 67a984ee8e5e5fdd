#[tars_rpc::tars_interface]
trait Hello {
    async fn by_mut(&mut self) -> tars_rpc::Result<i32>;
    async fn by_value(self) -> tars_rpc::Result<i32>;
    async fn none() -> tars_rpc::Result<i32>;
}

fn main() {}
