#[derive(tars_rpc::TarsStruct)]
struct User {
    #[tars(tag = 0)]
    id: i32,
    #[tars(tag = 0)]
    name: String,
}

fn main() {}
