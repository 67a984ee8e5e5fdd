// A parameter type without a TARS encoding is reported at the type, and at the method's parameters.
struct Plain;

#[tars_rpc::tars_interface]
trait Hello {
    async fn call(&self, input: Plain) -> tars_rpc::Result<i32>;
}

fn main() {}
