#[tars_rpc::tars_interface]
trait Hello {
    async fn a(&self, count: u64, out: &mut usize) -> tars_rpc::Result<char>;
}

fn main() {}
