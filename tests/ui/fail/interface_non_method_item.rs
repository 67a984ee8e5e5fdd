#[tars_rpc::tars_interface]
trait Hello {
    const VERSION: i32;
    async fn a(&self) -> tars_rpc::Result<i32>;
}

fn main() {}
