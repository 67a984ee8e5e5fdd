#[tars_rpc::tars_interface]
trait Hello<T> {
    async fn a(&self) -> tars_rpc::Result<i32>;
}

fn main() {}
