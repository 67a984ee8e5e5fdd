// Input of the expansion snapshot `user_struct.expanded.rs`.
#[derive(TarsStruct)]
#[tars(name = "Demo.User")]
pub struct User {
    #[tars(tag = 1)]
    name: String,
    #[tars(tag = 0)]
    id: i64,
    #[tars(tag = 2, optional)]
    tags: Vec<String>,
    #[tars(tag = 3, default = 18)]
    age: i32,
    #[tars(tag = 4, name = "sNick")]
    nickname: Option<String>,
}
