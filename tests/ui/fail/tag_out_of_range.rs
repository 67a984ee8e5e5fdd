#[derive(tars_rpc::TarsStruct)]
struct User {
    #[tars(tag = 256)]
    id: i32,
}

fn main() {}
