#[tars_rpc::tars_interface]
trait Hello {
    async fn a(&self, (x, y): (i32, i32)) -> tars_rpc::Result<i32>;
}

fn main() {}
