#[tars_rpc::tars_interface]
trait Hello {
    async fn say_hello(&self) -> tars_rpc::Result<i32>;
    #[tars(name = "sayHello")]
    async fn greet(&self) -> tars_rpc::Result<i32>;
}

fn main() {}
