#[tars_rpc::tars_interface(servant = "A.B.C")]
trait Hello {
    async fn a(&self) -> tars_rpc::Result<i32>;
}

#[tars_rpc::tars_interface]
trait Other {
    #[tars(rename = "b")]
    async fn a(&self) -> tars_rpc::Result<i32>;
}

fn main() {}
