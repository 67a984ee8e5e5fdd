#[tars_rpc::tars_interface]
trait Hello {
    async fn no_return(&self, s_req: String);
    async fn plain_int(&self) -> i32;
}

fn main() {}
