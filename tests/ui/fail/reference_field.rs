#[derive(tars_rpc::TarsStruct)]
struct Borrowed<'a> {
    #[tars(tag = 0)]
    name: &'a str,
}

fn main() {}
