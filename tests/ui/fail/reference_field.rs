#[derive(tars_rpc::TarsStruct)]
struct Owned {
    #[tars(tag = 0)]
    name: &'static str,
}

fn main() {}
