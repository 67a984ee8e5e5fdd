struct Plain;

#[tars_rpc::tars_interface]
trait Hello {
    async fn call(&self, input: Plain) -> tars_rpc::Result<i32>;
    async fn fill(&self, output: &mut Plain) -> tars_rpc::Result<()>;
    async fn get(&self) -> tars_rpc::Result<Plain>;
}

#[tars_rpc::tars_push]
trait Push {
    async fn pushed(&self, value: Plain);
}

fn main() {}
