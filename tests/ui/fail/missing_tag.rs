#[derive(tars_rpc::TarsStruct)]
struct User {
    #[tars(tag = 0)]
    id: i32,
    name: String,
}

fn main() {}
