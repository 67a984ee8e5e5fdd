#[derive(tars_rpc::TarsStruct)]
struct User {
    #[tars(tag = 0, optional, require)]
    id: i32,
}

fn main() {}
