#[derive(tars_rpc::TarsStruct)]
struct User {
    #[tars(tag = 0, require)]
    nick: Option<String>,
}

fn main() {}
