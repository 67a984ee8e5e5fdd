#[derive(tars_rpc::TarsStruct)]
struct User {
    #[tars(tag = 0)]
    user_id: i32,
    #[tars(tag = 1, name = "userId")]
    other_id: i32,
}

fn main() {}
